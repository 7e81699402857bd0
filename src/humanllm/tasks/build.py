"""From genome tables to the rows of every ``tasks/<task>/<split>.jsonl`` (no I/O but reading
general data files): build all six tasks, split by user, balance each split, apply the variant.

The test split is the same in every variant (all six tasks, the test users' rows, balanced to
``total_test``); the variant decides the training split only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from humanllm.tasks.builders import BUILDERS
from humanllm.tasks.config import RAW_TASK, TASKS, TasksConfig
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import BuildOptions, Built, Row
from humanllm.tasks.sampling import quotas, sample_cell, split_users
from humanllm.tasks.variants import (
    GENERAL_TASK,
    general_name,
    long_enough,
    raw_completion_rows,
    read_general,
)

Cell = tuple[str, str]  # (task, source)
SPLITS = ("train", "test")


@dataclass
class TaskData:
    """Rows per ``(folder, split)`` and a report for ``_SUCCESS.json``."""

    files: dict[tuple[str, str], list[Row]] = field(default_factory=dict)
    available: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped_tasks: dict[str, str] = field(default_factory=dict)
    users: dict[str, dict[str, int]] = field(default_factory=dict)
    general: dict[str, dict[str, Any]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{folder: {split: {source: rows}}}`` of what is written."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (folder, split), rows in sorted(self.files.items()):
            out.setdefault(folder, {})[split] = dict(
                sorted(Counter(r["source"] for r in rows).items())
            )
        return out


def _cells(rows_by_task: Mapping[str, list[Row]]) -> dict[Cell, list[Row]]:
    cells: dict[Cell, list[Row]] = {}
    for task, rows in rows_by_task.items():
        for r in rows:
            cells.setdefault((task, r["source"]), []).append(r)
    return cells


def _balance(
    cells: dict[Cell, list[Row]], total: int | None, seed: int, split: str
) -> dict[Cell, list[Row]]:
    take = quotas({c: len(rows) for c, rows in cells.items()}, total, seed)
    return {c: sample_cell(rows, take[c], seed, split, *c) for c, rows in cells.items()}


def _raw_cells(
    records: pl.DataFrame, test_users: set[tuple[str, str]], cfg: TasksConfig, o: BuildOptions
) -> dict[Cell, list[Row]]:
    df = long_enough(records, cfg.min_text_chars)
    if test_users:
        test = pl.DataFrame(sorted(test_users), schema=["source", "user_id"], orient="row")
        df = df.join(test, on=["source", "user_id"], how="anti")
    df = df.sort("source", "user_id", "record_id")
    parts = {str(s): part for (s,), part in df.group_by("source", maintain_order=True)}
    take = quotas({(RAW_TASK, s): p.height for s, p in parts.items()}, cfg.total_train, cfg.seed)
    cells = {}
    for s, part in parts.items():
        picked = sample_cell(
            range(part.height), take[(RAW_TASK, s)], cfg.seed, "train", RAW_TASK, s
        )
        cells[(RAW_TASK, s)] = raw_completion_rows(
            [part.row(i, named=True) for i in picked], o, cfg.min_text_chars
        )
    return cells


def build_task_data(
    genome: Genome,
    cfg: TasksConfig,
    kinds: Mapping[str, str],
    raw_records: pl.DataFrame | None = None,
) -> TaskData:
    """Everything the ``tasks`` stage writes; ``raw_records`` (the ingest output) is needed by the
    ``raw`` variant."""
    o = BuildOptions.from_config(cfg, kinds)
    data = TaskData()
    built: dict[str, Built] = {task: BUILDERS[task](genome, o) for task in TASKS}
    for task, b in built.items():
        data.skipped[task] = dict(sorted(b.skipped.items()))
        data.available[task] = dict(sorted(Counter(r["source"] for r in b.rows).items()))
        if not b.rows:
            why = (
                ", ".join(f"{n} {reason}" for reason, n in b.skipped.items()) or "empty input table"
            )
            data.skipped_tasks[task] = why
            data.notices.append(f"{task}: no rows ({why}); task skipped")

    test_users = split_users(genome.user_keys(), cfg.test_fraction, cfg.seed)
    for split in SPLITS:
        data.users[split] = {}
    for source, user in genome.user_keys():
        split = "test" if (source, user) in test_users else "train"
        data.users[split][source] = data.users[split].get(source, 0) + 1

    by_split: dict[str, dict[str, list[Row]]] = {s: {} for s in SPLITS}
    for task, b in built.items():
        for r in b.rows:
            split = "test" if (r["source"], r["user_id"]) in test_users else "train"
            by_split[split].setdefault(task, []).append(r)

    test = _balance(_cells(by_split["test"]), cfg.total_test, cfg.seed, "test")
    if cfg.variant == "raw":
        if raw_records is None:
            raise ValueError("variant raw needs the raw records (the ingest stage's records/)")
        train = _raw_cells(raw_records, test_users, cfg, o)
    else:
        wanted = {t: rows for t, rows in by_split["train"].items() if t in cfg.train_tasks()}
        train = _balance(_cells(wanted), cfg.total_train, cfg.seed, "train")

    for split, cells in (("train", train), ("test", test)):
        for (task, _), rows in sorted(cells.items()):
            if rows:
                data.files.setdefault((task, split), []).extend(rows)
    for task in TASKS:
        for split in SPLITS:
            if task in data.skipped_tasks or (task, split) in data.files:
                continue
            if split == "train" and task not in cfg.train_tasks():
                continue
            if by_split[split].get(task):
                total = "total_test" if split == "test" else "total_train"
                data.notices.append(
                    f"{task}: no {split} rows left after balancing to tasks.{total}"
                )
            else:
                data.notices.append(
                    f"{task}: no {split} rows (all its users are in the other split)"
                )
    if cfg.variant == "raw" and (RAW_TASK, "train") not in data.files:
        data.notices.append(
            f"{RAW_TASK}: no train rows (no raw record of a training user is long enough)"
        )
    if cfg.variant == "gen-mix":
        _mix_general(data, cfg)
    return data


def _mix_general(data: TaskData, cfg: TasksConfig) -> None:
    ours = sum(len(rows) for (_, split), rows in data.files.items() if split == "train")
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
            data.files[(name, "train")] = [{**r, "task": GENERAL_TASK} for r in rows]
