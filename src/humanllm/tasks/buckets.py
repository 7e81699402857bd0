"""User buckets, the units of work of the ``tasks`` stage: every row of a user, in every genome
table (and in ``records/`` for the ``raw`` variant), is in the bucket
:func:`~humanllm.tasks.sampling.bucket_of` gives the user.

:func:`partition` streams each input Parquet file batch by batch (``BATCH_ROWS`` rows; nothing
else is held) into one file per bucket and table, ``<work>/b00003/<table>.parquet``, with the
input's own schema, and on the way gathers what the user split needs (:class:`UserSplit`).
A bucket is then read on its own (:func:`read_bucket`): its users' rows of every table, plus the
one table that is global by nature, the item catalogue (one row per item, never per user or row),
which item selection draws its negative candidates from and both Amazon tasks describe items with.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from humanllm.tasks.inputs import REQUIRED, Genome, read_table
from humanllm.tasks.sampling import UserSplit, bucket_of

#: Rows read at a time by the partition (files are read page by page, not row group by row group).
BATCH_ROWS = 2048
#: Genome tables that hold users' rows (split into buckets); ``items`` is global.
USER_TABLES = tuple(name for name in REQUIRED if name != "items")
#: The ``raw`` variant's columns of ``records/``.
RAW_COLUMNS = ("source", "record_id", "user_id", "text", "title")
RAW = "raw"


def n_buckets(rows: int, bucket_records: int) -> int:
    """User buckets for inputs of ``rows`` records: ``ceil(rows / bucket_records)``, at least
    one (the number of buckets changes only the memory used, never the files written)."""
    return max(1, math.ceil(rows / bucket_records))


def bucket_dir(work: Path, bucket: int) -> Path:
    return work / f"b{bucket:05d}"


def _bucket_ids(batch: pa.RecordBatch, n: int, split: UserSplit | None) -> np.ndarray:
    keys = pl.from_arrow(batch.select(["source", "user_id"]))
    assert isinstance(keys, pl.DataFrame)
    keys = keys.select(pl.col("source", "user_id").cast(pl.String).fill_null(""))
    uniq = keys.unique(maintain_order=True)
    ids = []
    for source, user_id in uniq.iter_rows():
        ids.append(bucket_of(source, user_id, n))
        if split is not None:
            split.observe(source, user_id)
    uniq = uniq.with_columns(pl.Series("bucket", ids, dtype=pl.UInt32))
    got = keys.join(uniq, on=["source", "user_id"], how="left", maintain_order="left")
    return got["bucket"].to_numpy()


def _batches(path: Path, columns: tuple[str, ...] | None) -> Iterator[pa.RecordBatch]:
    """``path`` in batches; with ``columns``, those columns as strings (null where absent)."""
    f = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    if columns is None:
        yield from f.iter_batches(batch_size=BATCH_ROWS)
        return
    have = [c for c in columns if c in f.schema_arrow.names]
    for batch in f.iter_batches(batch_size=BATCH_ROWS, columns=have):
        arrays = [
            batch.column(c).cast(pa.large_string())
            if c in have
            else pa.nulls(batch.num_rows, pa.large_string())
            for c in columns
        ]
        yield pa.RecordBatch.from_arrays(arrays, names=list(columns))


def partition(
    files: list[Path],
    name: str,
    work: Path,
    n: int,
    split: UserSplit | None = None,
    columns: tuple[str, ...] | None = None,
) -> None:
    """Write the rows of ``files`` (one table) to ``<work>/bNNNNN/<name>.parquet``, every bucket
    getting a file (empty when none of its users has a row); ``split`` observes every user."""
    if columns is None:
        schema = pq.read_schema(files[0])
    else:
        schema = pa.schema([(c, pa.large_string()) for c in columns])
    writers: dict[int, pq.ParquetWriter] = {}
    tmp = f".{name}.parquet.tmp"
    try:
        for b in range(n):
            bucket_dir(work, b).mkdir(parents=True, exist_ok=True)
            writers[b] = pq.ParquetWriter(bucket_dir(work, b) / tmp, schema, compression="zstd")
        for path in files:
            for batch in _batches(path, columns):
                if batch.num_rows == 0:
                    continue
                ids = _bucket_ids(batch, n, split)
                order = np.argsort(ids, kind="stable")
                ends = np.cumsum(np.bincount(ids, minlength=n))
                start = 0
                for b, end in enumerate(ends):
                    if end > start:
                        writers[b].write_batch(batch.take(pa.array(order[start:end])))
                    start = int(end)
    finally:
        for w in writers.values():
            w.close()
    for b in range(n):
        (bucket_dir(work, b) / tmp).replace(bucket_dir(work, b) / f"{name}.parquet")


def read_bucket(work: Path, bucket: int, items: pl.DataFrame) -> Genome:
    """One bucket's genome (its users' rows, sorted as :func:`read_table` sorts) with the global
    item catalogue."""
    folder = bucket_dir(work, bucket)
    tables = {name: read_table(folder, name) for name in USER_TABLES}  # absent: empty
    return Genome(items=items, **tables)


def read_raw(work: Path, bucket: int) -> pl.DataFrame | None:
    """One bucket's raw records (``records/``), or None when the variant reads none."""
    path = bucket_dir(work, bucket) / f"{RAW}.parquet"
    return pl.read_parquet(path) if path.is_file() else None
