"""The paper's rule filters (§2.1), vectorised over Polars lazy frames.

Contract: a rule set is ``flag(records: LazyFrame, rules: FilterConfig, source: SourceConfig) ->
LazyFrame`` returning the same rows with an added ``reason`` column: null where every rule keeps
the record, else the name of the first rule that drops it (``"<source>.<rule>"``). The stage
driver writes the flagged rows to ``rejects/`` and applies the per-user minimum afterwards.
A source kind names its rule set (``SourceKind.rules``, see :mod:`humanllm.sources.kind`).
"""

from __future__ import annotations

import polars as pl

from humanllm.filters.config import FilterConfig
from humanllm.sources.kind import RuleSet


def first_reason(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """``checks`` are ``(reason, drop_condition)`` in order; the first true condition names the reason."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for reason, cond in reversed(checks):
        expr = pl.when(cond).then(pl.lit(reason)).otherwise(expr)
    return expr.alias("reason")


__all__ = ["FilterConfig", "RuleSet", "first_reason"]
