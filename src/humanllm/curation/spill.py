"""Out-of-core helpers for the genome stage: sinks that stream, splits of a frame into parts on disk,
and a sort by user that holds one part in memory at a time.

Polars' streaming engine copies, filters, joins against a small table and aggregates with flat
memory, but it sorts in memory and a partitioned sink buffers every open part. So a sort is a
range split (parts of whole users, in key order, about ``rows_per_part`` rows each) written with
at most :data:`FANOUT` parts open and a few rows buffered per part, then one in-memory sort per
part, then the sorted parts streamed into one file, in order.
"""

from __future__ import annotations

import math
import os
from itertools import count
from pathlib import Path

import polars as pl

#: Parts one partitioned sink writes at once; more parts are split in rounds.
FANOUT = 16
#: Rows of a Parquet row group this module writes: a sink buffers one row group (polars' default,
#: hundreds of thousands of rows, would hold a whole table of a few gigabytes).
ROW_GROUP_ROWS = 1024
#: The fewest rows of a file a partitioned sink writes (fewer, larger files for small parts).
MIN_FILE_ROWS = 256
_ids = count()


def sink(lf: pl.LazyFrame, path: Path) -> int:
    """Write ``lf`` to ``path`` atomically with the streaming engine; its number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    lf.sink_parquet(
        tmp, compression="zstd", statistics=True, row_group_size=ROW_GROUP_ROWS, engine="streaming"
    )
    os.replace(tmp, path)
    return rows(path)


def rows(path: Path) -> int:
    """Rows of a Parquet file (from its metadata)."""
    n: int = pl.scan_parquet(path).select(pl.len()).collect().item()
    return n


def scan_files(files: list[Path], schema: pl.Schema) -> pl.LazyFrame:
    """Files written by this module as one frame (an empty one of ``schema`` without files)."""
    if not files:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(files, hive_partitioning=False)


def partition(
    lf: pl.LazyFrame, part: str, n_parts: int, tmp: Path, rows_per_part: int
) -> list[pl.LazyFrame]:
    """``lf`` split by its integer column ``part`` (values ``0 .. n_parts - 1``) into ``n_parts``
    frames on disk under ``tmp``, in part order, without the column; rows keep their order within
    a part. At most :data:`FANOUT` parts are open at once; an open part buffers the rows of its
    current file (a partitioned sink writes a file when it closes it), so files are small: the
    buffers together hold about ``rows_per_part`` rows."""
    if n_parts <= 1:
        return [lf.drop(part)]
    rows_per_file = max(MIN_FILE_ROWS, rows_per_part // FANOUT)
    stride = math.ceil(n_parts / FANOUT)
    level = tmp / f"split-{next(_ids)}"
    schema = lf.collect_schema()
    lf.with_columns((pl.col(part) // stride).alias("_bucket")).sink_parquet(
        pl.PartitionBy(level, key="_bucket", include_key=False, max_rows_per_file=rows_per_file),
        mkdir=True,
        row_group_size=min(ROW_GROUP_ROWS, rows_per_file),
        engine="streaming",
    )
    out: list[pl.LazyFrame] = []
    for bucket in range(math.ceil(n_parts / stride)):
        lo = bucket * stride
        files = sorted((level / f"_bucket={bucket}").glob("*.parquet"))
        sub = scan_files(files, schema).with_columns(pl.col(part) - lo)
        out += partition(sub, part, min(n_parts, lo + stride) - lo, tmp, rows_per_part)
    return out


def sort_by_user(
    lf: pl.LazyFrame,
    by: list[str],
    group: list[str],
    path: Path,
    rows_per_part: int,
    tmp: Path,
) -> int:
    """Write ``lf`` sorted by ``by`` (nulls last; ``group``, e.g. source and user, leads ``by``) to
    ``path``; the rows written. The same order as one global sort (rows equal on ``by`` keep their
    order), holding in memory one part of whole groups (about ``rows_per_part`` rows, more for a
    group that is larger) and the table of groups with their sizes."""
    sizes = (
        lf.group_by(group)
        .agg(pl.len().alias("_n"))
        .sort(group, nulls_last=True)
        .collect(engine="streaming")
    )
    start = sizes["_n"].cum_sum() - sizes["_n"]
    sizes = sizes.with_columns(((start // rows_per_part).rank("dense") - 1).alias("_part"))
    n_parts = sizes["_part"].n_unique()
    if n_parts <= 1:
        return sink(lf.sort(by, nulls_last=True, maintain_order=True), path)
    keyed = lf.join(
        sizes.select(*group, pl.col("_part").cast(pl.Int64)).lazy(),
        on=group,
        how="inner",
        nulls_equal=True,
        maintain_order="left",
        build_side="force_right",
    )
    parts = partition(keyed, "_part", n_parts, tmp, rows_per_part)
    done = []
    for i, part in enumerate(parts):
        f = tmp / f"sorted-{next(_ids)}-{i:06d}.parquet"
        part.sort(by, nulls_last=True, maintain_order=True).sink_parquet(
            f, row_group_size=ROW_GROUP_ROWS, engine="streaming"
        )
        done.append(f)
    return sink(pl.scan_parquet(done, hive_partitioning=False), path)
