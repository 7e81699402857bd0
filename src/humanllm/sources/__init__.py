"""Readers: raw files in the four real formats (plus generic JSONL) -> the one record schema.

Each kind of source is a :class:`humanllm.sources.kind.SourceKind` registered by the module that
reads it; ``get_source_kind(kind).read`` is its reader.

Contract: a reader is ``read(cfg) -> Iterator[Chunk]``; it streams (memory does not grow with the
corpus), yields records conforming to :data:`humanllm.records.RECORD_SCHEMA`, and every input it
cannot turn into a record is either a reject (``record_id``, ``reason``, ``detail`` naming the
file and line/row) or a :class:`SourceError` naming the file. Nothing is dropped silently.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import polars as pl


class SourceError(ValueError):
    """Input that cannot be read at all; the message names the file (and line/row where known)."""


@dataclass
class Chunk:
    records: pl.DataFrame
    rejects: pl.DataFrame | None = None  # columns: record_id, reason, detail
    items: pl.DataFrame | None = None  # Amazon only: ITEM_SCHEMA


def expand_paths(path: str, patterns: tuple[str, ...] = ("*",)) -> list[Path]:
    """A file, a folder (files matching ``patterns`` inside, recursively) or a glob -> sorted files."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        found: set[Path] = set()
        for pat in patterns:
            found.update(f for f in p.rglob(pat) if f.is_file() and not f.name.startswith("."))
        files = sorted(found)
    else:
        files = sorted(Path(f) for f in glob.glob(path, recursive=True) if Path(f).is_file())
    if not files:
        raise SourceError(f"{path}: no input files found")
    return files
