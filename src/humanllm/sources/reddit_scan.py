"""The fused Reddit read: raw files -> ``(kept records, rejects)`` batches under rules pushed into
the read, the same records and rejects as :func:`humanllm.sources.reddit.read` followed by
those rules (the rules themselves, expressions only, are in :mod:`humanllm.filters.reddit`).

A :class:`Pushdown` holds two lists of ``(reason, drop condition)`` checks, the first that
drops a row naming its reject:

- ``early(fields)``: checks decidable before normalisation, built over the given field
  expressions (a field not given is the column of that name). For Parquet they run inside the
  scan on the raw columns: a row they drop that surely parses gets its reject there, its title
  and body never parsed or normalised; only the rows they keep (and the rare ones that might not
  parse, which take the exact parser and every check) are parsed, normalised and measured.
- ``late``: checks over finished records (normalised ``text``), run on the rows ``early`` kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import polars as pl

from humanllm.sources import expand_paths, reddit
from humanllm.sources._rt_io import PATTERNS, batches, is_parquet, parquet_scan
from humanllm.sources._rt_parse import as_text
from humanllm.sources.config import RedditSource

T = TypeVar("T")
R = TypeVar("R")
Checks = list[tuple[str, pl.Expr]]
_NO_DETAIL = pl.lit(None, dtype=pl.String).alias("detail")
_NO_REJECTS = pl.DataFrame(
    schema={"record_id": pl.String, "reason": pl.String, "detail": pl.String}
)

#: Batches finished at once. Polars releases the GIL and runs each string kernel of an eager
#: call on one thread, so two batches in flight keep two cores busy.
WORKERS = 2


@dataclass(frozen=True)
class Pushdown:
    """Rules a reader applies while it reads (see the module's docstring)."""

    early: Callable[[Mapping[str, pl.Expr]], Checks]
    late: Checks


def first_code(checks: Checks) -> pl.Expr:
    """The index of the first check that drops the row (null: every check keeps it)."""
    code: pl.Expr = pl.lit(None, dtype=pl.UInt8)
    for i, (_, cond) in reversed(list(enumerate(checks))):
        code = pl.when(cond).then(pl.lit(i, dtype=pl.UInt8)).otherwise(code)
    return code


def _reason(checks: Checks) -> pl.Expr:
    names = dict(enumerate(name for name, _ in checks))
    return first_code(checks).replace_strict(names, default=None, return_dtype=pl.String)


def finish_typed(
    typed: pl.DataFrame, rules: Pushdown, source: str = "reddit", *, early_done: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parsed rows (:func:`humanllm.sources.reddit.typed_batches`) -> ``(kept records,
    rejects)``, normalising only the rows the early checks keep. ``early_done``: every row
    already passed them (in the scan)."""
    early = _NO_REJECTS
    if not early_done:
        verdict = typed.select("record_id", _reason(rules.early({})).alias("reason"), _NO_DETAIL)
        dropped = verdict["reason"].is_not_null()
        early, typed = verdict.filter(dropped), typed.filter(~dropped)
    records = reddit.to_records(typed, source).with_columns(_reason(rules.late).alias("reason"))
    short = records["reason"].is_not_null()
    late = records.filter(short).select("record_id", "reason", _NO_DETAIL)
    return records.filter(~short).drop("reason"), pl.concat([early, late])


def read_pushdown(
    cfg: RedditSource, rules: Pushdown
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """``(kept records, rejects)`` per batch of every file under ``cfg.path`` (parse rejects
    included): the verdicts of ``rules`` on what :func:`humanllm.sources.reddit.read` reads."""
    for path in expand_paths(cfg.path, PATTERNS):
        if not is_parquet(path):
            for typed, bad in reddit.typed_batches(cfg.model_copy(update={"path": str(path)})):
                kept, rejects = finish_typed(typed, rules, cfg.source_name)
                yield kept, pl.concat([bad, rejects])
            continue
        lf = parquet_scan(path, reddit.COLUMNS, reddit.REQUIRED)
        schema = lf.collect_schema()
        checks = rules.early({**reddit.rule_inputs(schema), **reddit.text_inputs(schema)})
        lf = lf.with_columns(
            first_code(checks).alias("_code"), reddit.parse_suspect(schema).alias("_suspect")
        )
        finish = partial(
            _finish_batch,
            path=path,
            record_id=as_text(pl.col("id"), schema["id"]).alias("record_id"),
            reasons=pl.Series("reason", [name for name, _ in checks]),
            rules=rules,
            source=cfg.source_name,
        )
        yield from map_ordered(finish, batches(lf, path, cfg.batch_size), WORKERS)


def _finish_batch(
    raw: pl.DataFrame,
    *,
    path: Path,
    record_id: pl.Expr,
    reasons: pl.Series,
    rules: Pushdown,
    source: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One scanned batch (with ``_code``, the index in ``reasons`` of the first early check that
    drops the row, and ``_suspect``) -> ``(kept records, rejects)``."""
    settled = raw["_code"].is_not_null() & ~raw["_suspect"]
    early = raw.filter(settled)
    early = early.select(record_id, reasons.gather(early["_code"]), _NO_DETAIL)
    rest = raw.filter(~settled)
    typed, bad = reddit.parse_batch(rest.drop("_code", "_suspect"), path, "row ")
    exact = bool(rest["_suspect"].any())  # those rows still need every check
    kept, rejects = finish_typed(typed, rules, source, early_done=not exact)
    return kept, pl.concat([bad, early, rejects])


def map_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, in order, at most ``workers`` items ahead of
    the consumer (so memory stays that of a few batches)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
