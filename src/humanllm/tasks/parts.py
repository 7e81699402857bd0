"""The task files on disk: one bucket's part files, and their merge into ``<task>/<split>.jsonl``.

A part line is ``<order key as JSON><TAB><row as JSON>`` (JSON escapes every tab inside a
string, so the first tab ends the key); a part file holds its rows ordered by that key
(:func:`order_key`). :func:`merge_parts` streams the parts of every bucket into one file ordered
by the key, holding one line per part, so the file is the same whatever the number of buckets
(a key names one user, and a user is in one bucket, so no two parts share a key).
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

from humanllm.tasks.rows import Row


class Keyed(Protocol):
    @property
    def key(self) -> tuple[str, str, str, int]: ...
    @property
    def row(self) -> Row: ...


def _tmp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_jsonl(rows: Iterable[Row], path: Path) -> int:
    """Stream ``rows`` to ``path`` (written beside it, then renamed); returns the row count."""
    tmp, n = _tmp(path), 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


#: Tasks whose builder orders rows by their genome row (scenario, QA pair), not by user.
BY_REF = ("scenario_generation", "social_qa")


def order_key(task: str, key: tuple[str, str, str, int]) -> list[str]:
    """Where a row goes in its file: the order the builder makes its rows in over the whole
    genome — ``[source, ref, user_id]`` for :data:`BY_REF`, else ``[source, user_id]`` (a
    user's rows then keep the builder's order) — so no key is shared by two users."""
    source, user_id, ref, _ = key
    return [source, ref, user_id] if task in BY_REF else [source, user_id]


def write_part(path: Path, task: str, found: Iterable[Keyed]) -> None:
    """One bucket's rows of one file, ordered by :func:`order_key`, written atomically."""
    keyed = [(order_key(task, c.key), c.row) for c in found]
    keyed.sort(key=lambda kr: kr[0])  # stable: rows with one key keep the builder's order
    tmp = _tmp(path)
    with tmp.open("w", encoding="utf-8") as fh:
        for key, row in keyed:
            fh.write(json.dumps(key) + "\t" + json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def _lines(path: Path, stack: ExitStack) -> Iterator[tuple[list[str], str]]:
    fh = stack.enter_context(path.open(encoding="utf-8"))
    for line in fh:
        key, row = line.split("\t", 1)
        yield json.loads(key), row


#: Most part files open at once; more are merged in rounds (intermediate parts beside ``dest``).
FAN_IN = 128


def _merge(parts: list[Path], dest: Path, keep_keys: bool) -> int:
    tmp, n = _tmp(dest), 0
    with ExitStack() as stack, tmp.open("w", encoding="utf-8") as out:
        streams = [_lines(p, stack) for p in parts]
        for key, row in heapq.merge(*streams, key=lambda kv: kv[0]):
            out.write(f"{json.dumps(key)}\t{row}" if keep_keys else row)
            n += 1
    os.replace(tmp, dest)
    return n


def merge_parts(parts: list[Path], dest: Path) -> int:
    """Merge the existing ``parts`` (each ordered by key) into ``dest``; returns the row count."""
    parts = [p for p in parts if p.is_file()]
    rounds: list[Path] = []
    while len(parts) > FAN_IN:
        merged = []
        for i in range(0, len(parts), FAN_IN):
            step = dest.with_name(f".{dest.name}.round{len(rounds)}-{i // FAN_IN}")
            _merge(parts[i : i + FAN_IN], step, keep_keys=True)
            merged.append(step)
        rounds.extend(merged)
        parts = merged
    n = _merge(parts, dest, keep_keys=False)
    for step in rounds:
        step.unlink()
    return n
