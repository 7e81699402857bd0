"""User buckets: the unit of the stages that need all of a user's rows at once (``users``, ``qc``).

A user's bucket is a stable hash of ``(source, user_id)`` modulo the number of buckets, which
comes from the size of ``labeled/`` and ``executor.records_per_unit`` (never from the number of
workers). Before its units run, a stage scatters each input shard once, shard by shard, into
``<its folder>/_buckets/<n>/<input folder>/<shard>.parquet``, sorted by bucket in small row
groups, so reading one bucket reads only its row groups of each file. A scattered file is
written atomically and reused by a resumed run."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import polars as pl

from humanllm.stage import StageContext

BUCKET = "_bucket"
ROW_GROUP = 1024


def bucket_of(source: str, user_id: str, n: int) -> int:
    digest = hashlib.blake2b(f"{source}\x1f{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def folder_rows(ctx: StageContext, folder: str = "labeled") -> int:
    """Rows of a folder's shards, from their Parquet metadata."""
    return sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in ctx.run.shards(folder))


def bucket_count(ctx: StageContext, rows: int) -> int:
    """Buckets for ``rows`` records: ``executor.records_per_unit`` each."""
    return max(1, math.ceil(rows / ctx.cfg.executor.records_per_unit))


def unit_id(bucket: int) -> str:
    return f"b{bucket:05d}"


def bucket_dir(ctx: StageContext, out_folder: str, n: int) -> Path:
    return ctx.run.stage_dir(out_folder) / "_buckets" / str(n)


def scatter(ctx: StageContext, folder: str, into: Path, n: int) -> None:
    """Write each shard of ``folder`` with a bucket column, sorted by it (skipped when done)."""
    for path in ctx.run.shards(folder):
        target = into / folder / path.name
        if target.is_file():
            continue
        df = pl.read_parquet(path)
        keys = df.select("source", "user_id").unique()
        buckets = [bucket_of(str(s), str(u), n) for s, u in keys.iter_rows()]
        keys = keys.with_columns(pl.Series(BUCKET, buckets, dtype=pl.UInt32))
        df = df.join(keys, on=["source", "user_id"], how="left").sort(BUCKET, maintain_order=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        df.write_parquet(tmp, compression="zstd", statistics=True, row_group_size=ROW_GROUP)
        tmp.replace(target)


def read_bucket(into: Path, folder: str, bucket: int) -> pl.DataFrame | None:
    """The rows of ``folder`` in ``bucket`` (None when the folder has no shards)."""
    files = sorted((into / folder).glob("*.parquet")) if (into / folder).is_dir() else []
    if not files:
        return None
    scans = [pl.scan_parquet(f).filter(pl.col(BUCKET) == bucket) for f in files]
    lf = scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")
    return lf.drop(BUCKET).collect()
