"""Streaming input for the Reddit and Twitter readers: Parquet (lazy scan, columns by name) and
JSONL (plain, ``.gz`` or ``.zst``, line by line), both in batches of raw columns.

A batch is a DataFrame with ``_row`` (1-based row of a Parquet file, line of a JSONL file) and
the wanted columns: Parquet columns keep their dtype (a missing optional column is a null
string), JSONL values become strings (numbers as written, booleans "True"/"False", objects as
JSON), so one vectorised parser serves both. A file that cannot be read at all raises
:class:`SourceError` naming it; a JSONL line that is not a JSON object becomes a reject naming
``file:line``.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import polars as pl
import zstandard

from humanllm.sources import SourceError

PATTERNS = ("*.parquet", "*.jsonl", "*.ndjson", "*.json", "*.zst", "*.gz")
_NESTED = (pl.List, pl.Array, pl.Struct, pl.Object)
#: ``(reason, failed, message)``: a row for which ``failed`` holds is a reject of that reason.
Check = tuple[str, pl.Expr, str]


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def _reject_frame(ids: list[str], reasons: list[str], details: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": ids, "reason": reasons, "detail": details},
        schema={"record_id": pl.String, "reason": pl.String, "detail": pl.String},
    )


def parse_rejects(
    rows: pl.DataFrame,
    checks: list[Check],
    record_id: pl.Expr,
    path: Path,
    unit: str,
) -> pl.DataFrame:
    """Rejects for ``rows`` that failed parsing: the first failed check names the reason, and the
    detail reads ``file:row N: message`` (``file:N`` for a JSONL line)."""
    if rows.height == 0:
        return _reject_frame([], [], [])
    where = pl.concat_str([pl.lit(f"{path}:{unit}"), pl.col("_row").cast(pl.String), pl.lit(": ")])
    reason: pl.Expr = pl.lit("parse.bad_row")
    detail: pl.Expr = pl.concat_str([where, pl.lit("unreadable row")])
    for name, cond, message in reversed(checks):
        reason = pl.when(cond).then(pl.lit(name)).otherwise(reason)
        detail = pl.when(cond).then(pl.concat_str([where, pl.lit(message)])).otherwise(detail)
    return rows.select(record_id, reason.alias("reason"), detail.alias("detail"))


def missing(fields: dict[str, pl.Expr]) -> list[Check]:
    """One ``parse.missing_field`` check per field (``"<name> is missing"`` where it is null)."""
    return [
        ("parse.missing_field", v.is_null(), f"{name} is missing") for name, v in fields.items()
    ]


def split_rejects(
    raw: pl.DataFrame, checks: list[Check], id_column: str, path: Path, unit: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(rows that pass every check, rejects of the others)`` (see :func:`parse_rejects`); a
    reject's ``record_id`` is its ``id_column``, or ``file:row`` where that is null."""
    fallback_id = pl.lit(f"{path.name}:{unit}") + pl.col("_row").cast(pl.String)
    bad = raw.select(pl.any_horizontal([cond for _, cond, _ in checks]).fill_null(True)).to_series()
    rejects = parse_rejects(
        raw.filter(bad), checks, pl.coalesce(id_column, fallback_id).alias("record_id"), path, unit
    )
    return (raw.filter(~bad) if rejects.height else raw), rejects


def parsed_batches(
    files: Iterable[Path],
    columns: tuple[str, ...],
    required: tuple[str, ...],
    batch_size: int,
    parse: Callable[[pl.DataFrame, Path, str], tuple[pl.DataFrame, pl.DataFrame]],
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """``parse(raw, file, unit)`` of every batch of the Parquet and JSONL ``files``: ``(rows,
    rejects)``, a JSONL batch's unreadable lines first in its rejects (``unit``: "row " for
    Parquet rows, "" for JSONL lines, as rejects name them)."""
    for path in files:
        if is_parquet(path):
            for raw in parquet_batches(path, columns, required, batch_size):
                yield parse(raw, path, "row ")
        else:
            for raw, bad in jsonl_batches(path, columns, batch_size):
                rows, rejects = parse(raw, path, "")
                yield rows, pl.concat([bad, rejects])


def parquet_schema(
    path: Path, columns: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, pl.DataType]:
    """The file's columns, after checking it is Parquet, holds the required columns and no nested
    values where the reader wants a scalar."""
    try:
        schema = dict(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError) as e:
        raise SourceError(f"{path}: not a readable Parquet file ({e})") from e
    missing = [c for c in required if c not in schema]
    if missing:
        raise SourceError(
            f"{path}: missing required column(s) {', '.join(missing)} (found: {', '.join(schema) or 'none'})"
        )
    nested = [f"{c} ({schema[c]})" for c in columns if isinstance(schema.get(c), _NESTED)]
    if nested:
        raise SourceError(
            f"{path}: column(s) {', '.join(nested)} hold nested values where a scalar is expected"
        )
    return schema


def parquet_scan(path: Path, columns: tuple[str, ...], required: tuple[str, ...]) -> pl.LazyFrame:
    """A lazy scan of one Parquet file: ``_row`` and ``columns`` by name, in any order, a missing
    optional column as a null string. Filters on it are pushed into the reader."""
    schema = parquet_schema(path, columns, required)
    select: list[pl.Expr] = [pl.col("_row").cast(pl.Int64)]
    for name in columns:
        dtype = schema.get(name)
        if dtype is None or dtype == pl.Null:
            select.append(pl.lit(None, dtype=pl.String).alias(name))
        else:
            select.append(pl.col(name))
    return pl.scan_parquet(path, row_index_name="_row", row_index_offset=1).select(select)


def batches(lf: pl.LazyFrame, path: Path, batch_size: int) -> Iterator[pl.DataFrame]:
    """Stream a scan of ``path`` in batches; a read failure is a :class:`SourceError` naming it."""
    done = 0
    try:
        for batch in lf.collect_batches(chunk_size=batch_size):
            done += batch.height
            yield batch
    except (pl.exceptions.PolarsError, OSError) as e:
        raise SourceError(f"{path}: cannot read Parquet data after {done} rows ({e})") from e


def parquet_batches(
    path: Path, columns: tuple[str, ...], required: tuple[str, ...], batch_size: int
) -> Iterator[pl.DataFrame]:
    """Stream ``columns`` of one Parquet file (see :func:`parquet_scan`)."""
    return batches(parquet_scan(path, columns, required), path, batch_size)


def _zst_lines(raw: IO[bytes], path: Path) -> Iterator[bytes]:
    """Lines of a (possibly multi-frame) zstd file; a frame cut short is a :class:`SourceError`
    (the library's stream reader would end silently)."""
    # Pushshift dumps are compressed with a long window (up to 2 GiB).
    dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
    dobj, fed, tail = dctx.decompressobj(), False, b""
    while data := raw.read(1 << 20):
        while data:
            fed = True
            lines = (tail + dobj.decompress(data)).split(b"\n")
            tail = lines.pop()
            yield from lines
            data = b""
            if dobj.eof:  # next frame, if any
                data, dobj, fed = dobj.unused_data, dctx.decompressobj(), False
    if fed and not dobj.eof:
        raise SourceError(f"{path}: truncated zstd stream (the last frame is incomplete)")
    if tail:
        yield tail


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as raw:
        name = path.name.lower()
        if name.endswith(".zst"):
            yield from _zst_lines(raw, path)
        elif name.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield from gz
        else:
            yield from raw


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _parse_line(line: bytes) -> dict[str, Any] | tuple[str, str]:
    """A JSON object, or ``(reason, message)`` saying why the line is not one."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return "parse.bad_utf8", f"invalid UTF-8 at byte {e.start}"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return "parse.bad_json", f"{e.msg} at column {e.colno}"
    except RecursionError:
        return "parse.bad_json", "nested too deeply"
    if not isinstance(obj, dict):
        return "parse.bad_json", f"expected a JSON object, got {type(obj).__name__}"
    return obj


def jsonl_batches(
    path: Path, columns: tuple[str, ...], batch_size: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Stream ``(rows, rejects)`` from a JSON-lines file; every value arrives as a string.
    Blank lines are skipped; a line that is not a JSON object is a reject naming ``file:line``."""
    cols: dict[str, list[str | None]] = {c: [] for c in ("_row", *columns)}
    bad: tuple[list[str], list[str], list[str]] = ([], [], [])

    def flush() -> tuple[pl.DataFrame, pl.DataFrame]:
        rows = pl.DataFrame(cols, schema={c: pl.String for c in cols}).with_columns(
            pl.col("_row").cast(pl.Int64)
        )
        rejects = _reject_frame(*bad)
        for column in cols.values():
            column.clear()
        for part in bad:
            part.clear()
        return rows, rejects

    lineno = 0
    try:
        for lineno, line in enumerate(_lines(path), start=1):
            if not line.strip():
                continue
            obj = _parse_line(line)
            if isinstance(obj, tuple):
                bad[0].append(f"{path.name}:{lineno}")
                bad[1].append(obj[0])
                bad[2].append(f"{path}:{lineno}: {obj[1]}")
            else:
                cols["_row"].append(str(lineno))
                for c in columns:
                    cols[c].append(_as_text(obj.get(c)))
            if len(cols["_row"]) + len(bad[0]) >= batch_size:
                yield flush()
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as e:
        raise SourceError(f"{path}: cannot read the file after line {lineno} ({e})") from e
    if cols["_row"] or bad[0]:
        yield flush()
