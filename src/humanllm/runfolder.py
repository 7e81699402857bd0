"""The run folder: one sub-folder per stage holding Parquet shards and ``_SUCCESS.json``.

Shards are written under a temporary name and renamed into place, so a crash never leaves half a
shard. ``rejects/`` holds every dropped record as ``<stage>-<source>-<shard>.parquet``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from humanllm.records import REJECT_SCHEMA, conform

SUCCESS = "_SUCCESS.json"
REJECTS = "rejects"
GENOME = "genome"

#: The folder each stage writes, where it is not the stage's name.
STAGE_FOLDERS: dict[str, str] = {
    "ingest": "records",
    "filter": "filtered",
    "clean": "cleaned",
    "label": "labeled",
    "train": "checkpoints",
    "merge": "merged",
    "evaluate": "eval",
}


def stage_folder(stage: str) -> str:
    return STAGE_FOLDERS.get(stage, stage)


def atomic_write_parquet(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.write_parquet(tmp, compression="zstd", statistics=True)
    os.replace(tmp, path)


def atomic_write_text(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class SourceCounts:
    records_in: int = 0
    records_out: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"in": self.records_in, "out": self.records_out, "rejected": self.rejected}


@dataclass
class RunFolder:
    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    @property
    def genome_dir(self) -> Path:
        return self.root / GENOME

    @property
    def rejects_dir(self) -> Path:
        return self.root / REJECTS

    # --- shards -------------------------------------------------------------------------
    def write_shard(self, stage: str, name: str, df: pl.DataFrame) -> Path:
        path = self.stage_dir(stage) / f"{name}.parquet"
        atomic_write_parquet(df, path)
        return path

    def shards(self, stage: str, prefix: str = "") -> list[Path]:
        d = self.stage_dir(stage)
        if not d.is_dir():
            return []
        return sorted(p for p in d.glob(f"{prefix}*.parquet") if not p.name.startswith("."))

    def scan(self, stage: str, prefix: str = "") -> pl.LazyFrame | None:
        """All shards of ``stage`` as one frame, or None when there are none.

        Shards are unified by column name, whatever their order: a column missing from a shard is
        null there, and a column typed Null in one shard (written by an older version, when
        every value was missing) takes the type the others give it."""
        files = self.shards(stage, prefix)
        if not files:
            return None
        if len(files) == 1:
            return pl.scan_parquet(files[0])
        return pl.concat([pl.scan_parquet(f) for f in files], how="diagonal_relaxed")

    def write_rejects(self, stage: str, source: str, shard: str, df: pl.DataFrame) -> int:
        """Write the rejects of one shard; ``df`` needs ``record_id`` and ``reason`` (``detail``
        optional; a ``source`` column, when there, wins over ``source``)."""
        if df.height == 0:
            return 0
        df = df.with_columns(pl.lit(stage).alias("stage"))
        if "source" not in df.columns:
            df = df.with_columns(pl.lit(source).alias("source"))
        if "detail" not in df.columns:
            df = df.with_columns(pl.lit("").alias("detail"))
        atomic_write_parquet(
            conform(df, REJECT_SCHEMA), self.rejects_dir / f"{stage}-{shard}.parquet"
        )
        return df.height

    def scan_rejects(self, stage: str | None = None) -> pl.LazyFrame | None:
        if not self.rejects_dir.is_dir():
            return None
        files = sorted(self.rejects_dir.glob(f"{stage + '-' if stage else ''}*.parquet"))
        files = [f for f in files if not f.name.startswith(".")]
        return pl.scan_parquet(files) if files else None

    # --- stage lifecycle -------------------------------------------------------------------
    def clear_stage(self, folder: str, stage: str | None = None) -> None:
        """Remove a stage's output folder and its rejects (``rejects/<stage>-*``) before re-running it."""
        d = self.stage_dir(folder)
        if d.exists():
            shutil.rmtree(d)
        if self.rejects_dir.is_dir():
            for f in self.rejects_dir.glob(f"{stage or folder}-*.parquet"):
                f.unlink()

    def success(self, stage: str) -> dict[str, Any] | None:
        p = self.stage_dir(stage) / SUCCESS
        if not p.is_file():
            return None
        try:
            data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
            return data
        except (OSError, json.JSONDecodeError):
            return None

    def mark_success(self, stage: str, info: dict[str, Any]) -> None:
        atomic_write_text(
            json.dumps(info, indent=2, sort_keys=True) + "\n", self.stage_dir(stage) / SUCCESS
        )

    def finished_stages(self) -> Iterator[tuple[str, dict[str, Any]]]:
        if not self.root.is_dir():
            return
        for d in sorted(self.root.iterdir()):
            if d.is_dir() and (d / SUCCESS).is_file():
                info = self.success(d.name)
                if info is not None:
                    yield d.name, info


@dataclass
class StageTimer:
    start: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return round(time.perf_counter() - self.start, 3)
