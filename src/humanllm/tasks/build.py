"""From genome tables to every ``tasks/<task>/<split>.jsonl``, user bucket by user bucket, with
memory bounded by the bucket (``tasks.bucket_records``), never by the corpus.

1. Partition: every genome table (and ``records/`` for ``raw``) is streamed into one file per
   user bucket (:mod:`humanllm.tasks.buckets`); on the way, the smallest and largest split hash of
   each source (the user split's clamps, :class:`~humanllm.tasks.sampling.UserSplit`).
2. Count: per bucket, the builders run on that bucket's users and every candidate's selection
   hash is kept, by ``(task, source, split)`` cell (8 bytes per candidate, on disk per bucket).
   The water-filling :func:`~humanllm.tasks.sampling.quotas` of each split then give every cell
   its :class:`~humanllm.tasks.select.Cut`, which keeps the cell's quota exactly.
3. Write: per bucket, the builders run again and the kept rows go to that bucket's part files
   (:mod:`humanllm.tasks.parts`); the parts are merged into the task files by ``(source,
   user_id)``, so the files do not depend on the number of buckets.

Each bucket of steps 2 and 3 leaves a marker: a run killed between buckets resumes with the
unfinished ones (a killed partition is redone). The test split is the same in every variant
(all six tasks, the test users' rows, balanced to ``total_test``); the variant decides the
training split only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from humanllm.runfolder import atomic_write_text
from humanllm.tasks.buckets import (
    RAW,
    RAW_COLUMNS,
    USER_TABLES,
    n_buckets,
    partition,
    read_bucket,
    read_raw,
)
from humanllm.tasks.config import RAW_TASK, TasksConfig
from humanllm.tasks.inputs import read_table
from humanllm.tasks.parts import merge_parts, write_jsonl, write_part
from humanllm.tasks.registry import task_names
from humanllm.tasks.rows import BuildOptions
from humanllm.tasks.sampling import UserSplit, quotas
from humanllm.tasks.select import (
    SPLITS,
    BucketStats,
    Candidate,
    Cell,
    Cut,
    bucket_candidates,
    cuts,
    resolve_ties,
)
from humanllm.tasks.variants import GENERAL_TASK, general_name, read_general

WORK = "_work"
Log = Callable[[str], None]


@dataclass
class TaskData:
    """Rows written per ``(folder, split)`` and source, and a report for ``_SUCCESS.json``."""

    files: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    available: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped_tasks: dict[str, str] = field(default_factory=dict)
    users: dict[str, dict[str, int]] = field(default_factory=dict)
    general: dict[str, dict[str, Any]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    buckets: int = 1

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{folder: {split: {source: rows}}}`` of what is written."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (folder, split), by_source in sorted(self.files.items()):
            out.setdefault(folder, {})[split] = dict(sorted(by_source.items()))
        return out


@dataclass(frozen=True)
class Inputs:
    """The stage's input files: the genome tables that exist, and ``records/`` for ``raw``."""

    folder: Path
    genome: dict[str, Path]
    raw: list[Path] = field(default_factory=list)


def _rows(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


def _plan(inputs: Inputs, cfg: TasksConfig, kinds: dict[str, str], version: str, n: int) -> str:
    files = [*inputs.genome.values(), *inputs.raw]
    blob = {
        "version": version,
        "tasks": cfg.model_dump(mode="json"),
        "kinds": dict(sorted(kinds.items())),
        "buckets": n,
        "inputs": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _partition(inputs: Inputs, work: Path, n: int, cfg: TasksConfig, log: Log) -> UserSplit:
    marker = work / "in" / "split.json"
    if marker.is_file():
        extremes = json.loads(marker.read_text(encoding="utf-8"))
        return UserSplit(cfg.test_fraction, cfg.seed, extremes)
    log(f"partition into {n} user bucket(s)")
    split = UserSplit(cfg.test_fraction, cfg.seed)
    for name in USER_TABLES:
        if name in inputs.genome:
            partition([inputs.genome[name]], name, work / "in", n, split)
    if inputs.raw:
        partition(inputs.raw, RAW, work / "in", n, None, RAW_COLUMNS)
    atomic_write_text(json.dumps(split.extremes), marker)
    return split


class _Buckets:
    """Reads one bucket's candidates; what every pass shares."""

    def __init__(
        self, work: Path, items: pl.DataFrame, cfg: TasksConfig, o: BuildOptions, s: UserSplit
    ):
        self.work, self.items, self.cfg, self.o, self.split = work, items, cfg, o, s

    def candidates(self, b: int) -> tuple[list[Candidate], BucketStats]:
        genome = read_bucket(self.work / "in", b, self.items)
        return bucket_candidates(
            genome, read_raw(self.work / "in", b), self.cfg, self.o, self.split
        )

    def every(self, n: int) -> Iterator[Candidate]:
        for b in range(n):
            yield from self.candidates(b)[0]


def _count(bk: _Buckets, b: int) -> dict[Cell, np.ndarray]:
    """Pass 1 for bucket ``b``: its candidates' selection hashes by cell (kept on disk)."""
    done = bk.work / "count" / f"b{b:05d}.json"
    arrays = done.with_suffix(".npz")
    if done.is_file():
        cells = json.loads(done.read_text(encoding="utf-8"))
        with np.load(arrays) as z:
            return {(c[0], c[1], c[2]): z[f"arr_{i}"] for i, c in enumerate(cells)}
    by_cell: dict[Cell, list[int]] = {}
    for c in bk.candidates(b)[0]:
        by_cell.setdefault(c.cell, []).append(c.hash)
    hashes = {cell: np.array(h, dtype=np.uint64) for cell, h in sorted(by_cell.items())}
    tmp = arrays.with_name(f".{arrays.name}.tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as fh:
        np.savez(fh, *hashes.values())
    tmp.replace(arrays)
    atomic_write_text(json.dumps([list(c) for c in hashes]), done)
    return hashes


def _write(
    bk: _Buckets, b: int, cut: dict[Cell, Cut] | None
) -> tuple[dict[str, dict[str, int]], BucketStats]:
    """Pass 2 for bucket ``b`` (``cut`` None: keep everything): its kept rows into its part
    files; returns ``{"task/split": {source: rows}}`` and the bucket's report."""
    done = bk.work / "parts" / f"b{b:05d}.json"
    if done.is_file():
        meta = json.loads(done.read_text(encoding="utf-8"))
        return meta["files"], BucketStats(**meta["stats"])
    found, stats = bk.candidates(b)
    kept: dict[tuple[str, str], list[Candidate]] = {}
    for c in found:
        if cut is None or cut[c.cell].keeps(c):
            kept.setdefault((c.cell[0], c.cell[2]), []).append(c)
    counts: dict[str, dict[str, int]] = {}
    for (folder, split), rows in sorted(kept.items()):
        write_part(bk.work / "parts" / f"b{b:05d}" / f"{folder}.{split}.jsonl", folder, rows)
        by_source: dict[str, int] = {}
        for c in rows:
            by_source[c.key[0]] = by_source.get(c.key[0], 0) + 1
        counts[f"{folder}/{split}"] = by_source
    atomic_write_text(json.dumps({"files": counts, "stats": stats.as_dict()}), done)
    return counts, stats


def _select(bk: _Buckets, n: int, cfg: TasksConfig, log: Log) -> dict[Cell, Cut]:
    """Pass 1: every cell's cut, from the hashes of all its candidates."""
    hashes: dict[Cell, list[np.ndarray]] = {}
    for b in range(n):
        for cell, h in _count(bk, b).items():
            hashes.setdefault(cell, []).append(h)
    log(f"counted {sum(len(a) for h in hashes.values() for a in h):,} candidates in {n} bucket(s)")
    joined = {cell: np.concatenate(h) for cell, h in sorted(hashes.items())}
    del hashes
    totals = {"train": cfg.total_train, "test": cfg.total_test}
    take: dict[Cell, int] = {}
    for where in SPLITS:
        sizes = {(t, src): len(h) for (t, src, sp), h in joined.items() if sp == where}
        for (t, src), k in quotas(sizes, totals[where], cfg.seed).items():
            take[(t, src, where)] = k
    cut, tied = cuts(joined, take)
    if tied:
        log(f"{len(tied)} cell(s) cut inside equal hashes: one more pass to break the ties")
        resolve_ties(cut, tied, bk.every(n))
    return cut


def build_tasks(
    inputs: Inputs,
    out: Path,
    cfg: TasksConfig,
    kinds: dict[str, str],
    version: str = "",
    log: Log = lambda _: None,
) -> TaskData:
    """Write every task file of ``out`` (a run's ``tasks/``) and return what was written."""
    o = BuildOptions.from_config(cfg, kinds)
    rows = [_rows(inputs.genome["records"]), sum(_rows(p) for p in inputs.raw)]
    n = n_buckets(max(rows), cfg.bucket_records)
    work = out / WORK
    plan = _plan(inputs, cfg, kinds, version, n)
    plan_file = work / "plan.json"
    if work.exists() and not (plan_file.is_file() and plan_file.read_text().strip() == plan):
        shutil.rmtree(work)
    atomic_write_text(plan + "\n", plan_file)
    split = _partition(inputs, work, n, cfg, log)
    items = read_table(inputs.folder, "items")  # global: one row per item
    bk = _Buckets(work, items, cfg, o, split)

    # without totals every candidate is kept: no counting pass
    cut = None if cfg.total_train is None and cfg.total_test is None else _select(bk, n, cfg, log)
    files: dict[tuple[str, str], dict[str, int]] = {}
    stats = BucketStats()
    for b in range(n):
        written, s = _write(bk, b, cut)
        stats.add(s)
        for name, by_source in written.items():
            folder, where = name.split("/")
            into = files.setdefault((folder, where), {})
            for source, k in by_source.items():
                into[source] = into.get(source, 0) + k
    for folder, where in sorted(files):
        merge_parts(
            [work / "parts" / f"b{b:05d}" / f"{folder}.{where}.jsonl" for b in range(n)],
            out / folder / f"{where}.jsonl",
        )
    shutil.rmtree(work)
    data = _report(files, stats, cfg)
    data.buckets = n
    if cfg.variant == "gen-mix":
        _mix_general(data, cfg, out)
    return data


def _report(
    files: dict[tuple[str, str], dict[str, int]], stats: BucketStats, cfg: TasksConfig
) -> TaskData:
    data = TaskData(files=files)
    data.users = {where: dict(sorted(stats.users.get(where, {}).items())) for where in SPLITS}
    names = task_names()
    for task in names:
        skipped = dict(sorted(stats.skipped.get(task, {}).items()))
        data.skipped[task] = skipped
        data.available[task] = dict(sorted(stats.available.get(task, {}).items()))
        if not data.available[task]:
            why = ", ".join(f"{n} {reason}" for reason, n in skipped.items()) or "empty input table"
            data.skipped_tasks[task] = why
            data.notices.append(f"{task}: no rows ({why}); task skipped")
    for task in names:
        for where in SPLITS:
            if task in data.skipped_tasks or (task, where) in files:
                continue
            if where == "train" and task not in cfg.train_tasks():
                continue
            if stats.present.get(where, {}).get(task):
                total = "total_test" if where == "test" else "total_train"
                data.notices.append(
                    f"{task}: no {where} rows left after balancing to tasks.{total}"
                )
            else:
                data.notices.append(
                    f"{task}: no {where} rows (all its users are in the other split)"
                )
    if cfg.variant == "raw" and (RAW_TASK, "train") not in files:
        data.notices.append(
            f"{RAW_TASK}: no train rows (no raw record of a training user is long enough)"
        )
    return data


def _mix_general(data: TaskData, cfg: TasksConfig, out: Path) -> None:
    ours = sum(sum(n.values()) for (_, split), n in data.files.items() if split == "train")
    wanted = round(ours * cfg.general_fraction / (1 - cfg.general_fraction))
    paths = [Path(p) for p in cfg.general_data]
    names = [general_name(p) for p in paths]
    for i, name in enumerate(names):
        if names.count(name) > 1:
            names[i] = f"{name}_{i}"
    for n, (path, name) in enumerate(zip(paths, names, strict=True)):
        k = wanted // len(paths) + (1 if n < wanted % len(paths) else 0)
        rows, stats = read_general(path, k, cfg.seed)
        data.general[name] = {"path": str(path), "wanted": k, **stats}
        if len(rows) < k:
            data.notices.append(f"{name}: {len(rows)} usable rows of {k} wanted ({path})")
        if rows:
            write_jsonl(({**r, "task": GENERAL_TASK} for r in rows), out / name / "train.jsonl")
            data.files[(name, "train")] = {name: len(rows)}
