"""A finished run's genome (tests/tasks/genome.py, no model), a sample of it, filled sheets."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import polars as pl

from humanllm.humaneval.sample import SampleConfig, load, sample
from tests.tasks.genome import tables, write_genome

#: (instance id, annotator) -> (hallucination, plausibility)
RatingFn = Callable[[str, str, str], tuple[int, int]]


def genome_run(root: Path, **kwargs: object) -> Path:
    """A run folder with genome/{users,records,scenarios,social_qa,...}.parquet and a config."""
    dfs = tables(**kwargs)  # type: ignore[arg-type]
    write_genome(root / "genome", dfs)
    (root / "config.yaml").write_text("sources:\n  - {kind: reddit, path: x}\n")
    return root


def sampled(root: Path, **cfg: object) -> Path:
    folder, _ = sample(root, SampleConfig(**cfg))  # type: ignore[arg-type]
    return folder


def fill(folder: Path, rating: RatingFn, note: str = "") -> None:
    """Fill every sheet of ``folder`` in place: ``rating(instance_id, annotator, stratum)``."""
    for path in sorted((folder / "sheets").glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            h, p = rating(row["instance_id"], row["annotator"], row["stratum"])
            row["hallucination"], row["plausibility"], row["note"] = str(h), str(p), note
        write_rows(path, rows)


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def assignment(folder: Path) -> dict[str, list[str]]:
    _, instances = load(folder)
    return {x.instance_id: x.annotators for x in instances}


def with_users(root: Path, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    path = root / "genome" / "users.parquet"
    change(pl.read_parquet(path)).write_parquet(path)
