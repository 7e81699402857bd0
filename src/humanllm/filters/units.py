"""The filter stage's units: one ``records/`` shard (or one batch of the fused Reddit path) at a
time, so the review text of one unit is in memory, never a whole source's.

Pass 1 (:func:`staged_units`, :func:`fused_units`) runs the source's row rules over a unit and
writes its ``flags`` (compact columns: see :mod:`humanllm.filters.decide`); the fused path also
spills the unit's rows, since it has no ``records/`` shard to read back. Pass 3
(:func:`finish_unit`) reads the unit again, applies what the global pass decided, and writes its
rejects and its kept rows per user bucket into the work folder; :func:`merge_outputs` then
concatenates those parts in frame order into ``rejects/`` and ``filtered/``.

Frame order: the order in which the in-memory filter (a whole source as one frame) sees the rows,
which decides the first copy of a duplicated record id and the order of the rejects: units in
order, each unit's rows in order, except that a rule set may put some rows first (``phase`` 0
before 1 over the whole source): Twitter's rows decided by the user and length rules
(:data:`humanllm.filters.twitter.EARLY_REASONS`), and on the fused Reddit path every kept row
before the rows its rules dropped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from humanllm.filters import RuleSet
from humanllm.filters.config import FilterConfig
from humanllm.filters.decide import GLOBAL_REASONS, id_hashes
from humanllm.records import RECORD_SCHEMA, REJECT_SCHEMA, conform
from humanllm.runfolder import RunFolder

_CODE = pl.UInt16


@dataclass(frozen=True)
class Unit:
    index: int
    frame: Path  # the unit's rows: its records/ shard, or its spilled rows (fused Reddit)
    flags: Path
    rows: int


class Codes:
    """Reject reasons as small integers (the global rules' first, then the rules' as met)."""

    def __init__(self) -> None:
        self.names: list[str] = list(GLOBAL_REASONS)
        self.index: dict[str, int] = {n: i for i, n in enumerate(self.names)}

    def encode(self, reason: pl.Series) -> pl.Series:
        for name in reason.drop_nulls().unique(maintain_order=True).to_list():
            if name not in self.index:
                self.index[name] = len(self.names)
                self.names.append(name)
        return reason.replace_strict(self.index, default=None, return_dtype=_CODE)

    def decode(self, code: pl.Expr) -> pl.Expr:
        mapping = dict(enumerate(self.names))
        return code.replace_strict(mapping, default=None, return_dtype=pl.String)


def _write(df: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path)
    return path


def _flags(
    flagged: pl.DataFrame, unit: int, phase: pl.Series, codes: Codes, item: bool
) -> pl.DataFrame:
    ids = [*id_hashes("record_id", "rid"), *id_hashes("user_id", "user")]
    if item:
        ids += id_hashes("_item", "item")
    return flagged.select(
        pl.lit(unit, dtype=pl.UInt32).alias("unit"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
        phase.cast(pl.UInt8).alias("phase"),
        codes.encode(flagged["reason"]).alias("code"),
        *ids,
    )


def staged_units(
    shards: list[Path],
    rules: RuleSet,
    cfg: FilterConfig,
    src: object,
    work: Path,
    codes: Codes,
    *,
    early: tuple[str, ...] = (),
    item: bool = False,
) -> Iterator[Unit]:
    """Pass 1 over ingested shards: the rules on each shard, in the shard's row order."""
    for i, path in enumerate(shards):
        records = pl.scan_parquet(path).with_row_index("_src_row")
        flagged = rules(records, cfg, src).collect().sort("_src_row")
        phase = ~flagged["reason"].is_in(early).fill_null(False)
        flags = _write(_flags(flagged, i, phase, codes, item), work / f"flags-{i:05d}.parquet")
        yield Unit(i, path, flags, flagged.height)


def fused_units(
    read_filtered: Callable[..., Iterator[tuple[pl.DataFrame, pl.DataFrame]]],
    src: object,
    cfg: FilterConfig,
    work: Path,
    codes: Codes,
) -> Iterator[Unit]:
    """Pass 1 of a fused path (``read_filtered(src, cfg)``, Reddit's): each batch's kept rows
    (phase 0) and the rows its rules dropped (phase 1; parse rejects were written by ingest)."""
    i = 0
    for kept, rejects in read_filtered(src, cfg):
        dropped = rejects.filter(~pl.col("reason").str.starts_with("parse."))
        if kept.height == 0 and dropped.height == 0:
            continue
        frame = pl.concat(
            [kept.with_columns(pl.lit(None, dtype=pl.String).alias("reason")), dropped],
            how="diagonal_relaxed",
        )
        phase = pl.Series([0] * kept.height + [1] * dropped.height)
        spilled = _write(frame, work / f"frame-{i:05d}.parquet")
        flags = _write(_flags(frame, i, phase, codes, False), work / f"flags-{i:05d}.parquet")
        yield Unit(i, spilled, flags, frame.height)
        i += 1


@dataclass
class UnitOutput:
    rejects: list[tuple[int, Path]]  # (phase, part)
    buckets: dict[int, Path]
    kept: int
    rejected: int


def finish_unit(
    unit: Unit,
    changes: pl.DataFrame,
    short: pl.DataFrame,
    codes: Codes,
    *,
    stage: str,
    source: str,
    detail: bool,
    buckets: int,
    work: Path,
) -> UnitOutput:
    """Pass 3: the unit's final verdicts (``changes``: ``row``, ``code``, ``round`` of the rows a
    global rule dropped; ``short``: ``row``, ``short`` of the rows the per-user minimum drops,
    unless a change did), its rejects and its kept rows per user bucket."""
    flags = pl.read_parquet(unit.flags, columns=["row", "phase", "code"])
    flags = flags.join(
        changes.rename({"code": "_code"}), on="row", how="left", maintain_order="left"
    ).join(short, on="row", how="left", maintain_order="left")
    verdict = flags.select(
        "phase",
        codes.decode(pl.coalesce("code", "_code", "short")).alias("reason"),
        pl.when(pl.col("round") > 0).then(pl.format("k-core round {}", "round")).alias("detail"),
    )
    frame = pl.read_parquet(unit.frame).drop(["reason", "detail"], strict=False)
    frame = frame.hstack(verdict)
    out = UnitOutput([], {}, 0, 0)
    for phase in (0, 1):
        rejected = frame.filter(pl.col("reason").is_not_null() & (pl.col("phase") == phase))
        if rejected.height == 0:
            continue
        rows = rejected.select(
            pl.lit(stage).alias("stage"),
            pl.lit(source).alias("source"),
            "record_id",
            "reason",
            pl.col("detail") if detail else pl.lit("").alias("detail"),
        )
        path = work / "rejects" / f"{phase}-{unit.index:05d}.parquet"
        out.rejects.append((phase, _write(conform(rows, REJECT_SCHEMA), path)))
        out.rejected += rows.height
    kept = frame.filter(pl.col("reason").is_null()).sort("phase", maintain_order=True)
    kept = conform(kept, RECORD_SCHEMA).with_columns(
        (pl.col("user_id").hash(seed=0) % buckets).alias("_bucket")
    )
    out.kept = kept.height
    for (bucket,), part in kept.group_by("_bucket", maintain_order=True):
        b = int(bucket)  # type: ignore[call-overload]
        path = work / "buckets" / f"{b:05d}" / f"{unit.index:05d}.parquet"
        out.buckets[b] = _write(part.drop("_bucket"), path)
    return out


def merge_outputs(run: RunFolder, stage: str, source: str, outputs: list[UnitOutput]) -> None:
    """Rejects in frame order into ``rejects/<stage>-<source>.parquet`` (streamed), and each
    user bucket's parts, in unit order, sorted by user and time into ``filtered/``."""
    parts = sorted((phase, n, path) for n, o in enumerate(outputs) for phase, path in o.rejects)
    if parts:
        target = run.rejects_dir / f"{stage}-{source}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        lf = pl.concat([pl.scan_parquet(p) for _, _, p in parts])
        lf.sink_parquet(tmp, compression="zstd", statistics=True)
        os.replace(tmp, target)
    buckets: dict[int, list[Path]] = {}
    for o in outputs:
        for b, path in o.buckets.items():
            buckets.setdefault(b, []).append(path)
    for b in sorted(buckets):
        part = pl.concat([pl.read_parquet(p) for p in buckets[b]])
        run.write_shard("filtered", f"{source}-{b:05d}", part.sort("user_id", "created_at"))
