"""``--sample N``: the first N records of each source, copied to a temporary folder, and the
factor that scales what they give to the whole source.

A source's total is read without parsing its records: Parquet row counts from the files' metadata,
JSONL line counts (decompressing ``.gz`` / ``.zst`` but not decoding JSON), Blogger ``<post>``
tags. The sample is the first records in the reader's file order (Blogger: whole files, since a
file is one blogger); the factor is total / sampled, per source. A source's side files (Twitter
users, Amazon item metadata, comments) are used whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from humanllm.sources import SourceError, expand_paths
from humanllm.sources._ba_io import JSONL_PATTERNS
from humanllm.sources._rt_io import PATTERNS, _lines, is_parquet

BLOGGER_PATTERNS = ("*.xml",)
_POST = re.compile(rb"<post>", re.I)


@dataclass(frozen=True)
class SourceSample:
    """How one source was sampled: records taken, records in the source, and the factor."""

    source: str
    sampled: int
    total: int

    @property
    def factor(self) -> float:
        return self.total / self.sampled if self.sampled else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"sampled": self.sampled, "total": self.total, "factor": round(self.factor, 6)}


def _patterns(kind: str) -> tuple[str, ...]:
    if kind == "blogger":
        return BLOGGER_PATTERNS
    if kind in ("amazon", "jsonl"):
        return JSONL_PATTERNS
    return PATTERNS


def _plain_name(path: Path) -> str:
    name = path.name
    for ext in (".gz", ".zst"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def _count_lines(path: Path) -> int:
    return sum(1 for line in _lines(path) if line.strip())


def _copy_parquet(files: list[Path], n: int, out: Path) -> tuple[int, int]:
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    taken = 0
    for f in files:
        if taken >= n:
            break
        pf = pq.ParquetFile(f)
        batch = next(pf.iter_batches(batch_size=n - taken), None)
        if batch is None:
            continue
        pq.write_table(pa.Table.from_batches([batch]), out / f.name)
        taken += batch.num_rows
    return taken, total


def _copy_lines(files: list[Path], n: int, out: Path) -> tuple[int, int]:
    total = sum(_count_lines(f) for f in files)
    taken = 0
    for f in files:
        if taken >= n:
            break
        kept: list[bytes] = []
        for line in _lines(f):
            if not line.strip():
                continue
            kept.append(line.rstrip(b"\r\n"))
            if taken + len(kept) >= n:
                break
        (out / _plain_name(f)).write_bytes(b"\n".join(kept) + b"\n")
        taken += len(kept)
    return taken, total


def _copy_blogs(files: list[Path], n: int, out: Path) -> tuple[int, int]:
    posts = [len(_POST.findall(f.read_bytes())) for f in files]
    taken = 0
    for f, k in zip(files, posts, strict=True):
        if taken >= n:
            break
        (out / f.name).symlink_to(f.resolve())
        taken += k
    return taken, sum(posts)


def sample_source(src: Any, n: int, out: Path) -> tuple[Any, SourceSample]:
    """A copy of ``src`` (a source config) reading the first ``n`` records from ``out``, and how
    it was sampled. ``out`` must be an empty folder of its own."""
    out.mkdir(parents=True, exist_ok=True)
    files = expand_paths(src.path, _patterns(src.kind))
    update: dict[str, Any] = {"path": str(out)}
    if src.kind == "amazon":
        metas = [f for f in files if f.name.startswith("meta_")]
        files = [f for f in files if not f.name.startswith("meta_")]
        if src.meta_path is None and metas:  # next to the reviews: keep them there
            for m in metas:
                (out / m.name).symlink_to(m.resolve())
    if src.kind == "blogger":
        taken, total = _copy_blogs(files, n, out)
    elif all(is_parquet(f) for f in files):
        taken, total = _copy_parquet(files, n, out)
    elif any(is_parquet(f) for f in files):
        raise SourceError(f"{src.path}: --sample needs one format per source, Parquet or JSONL")
    else:
        taken, total = _copy_lines(files, n, out)
    return src.model_copy(update=update), SourceSample(src.source_name, taken, total)
