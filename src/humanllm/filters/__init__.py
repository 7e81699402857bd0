"""The paper's rule filters (§2.1), vectorised over Polars lazy frames.

Contract: a rule set is ``flag(records: LazyFrame, rules: FilterConfig, source: SourceConfig) ->
LazyFrame`` returning the same rows with an added ``reason`` column: null where every rule keeps
the record, else the name of the first rule that drops it (``"<source>.<rule>"``). The stage
driver writes the flagged rows to ``rejects/`` and applies the per-user minimum afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from humanllm.filters.config import FilterConfig

RuleSet = Callable[..., pl.LazyFrame]


def get_rules(kind: str) -> RuleSet:
    from humanllm.filters import amazon, blogger, generic, reddit, twitter

    table: dict[str, RuleSet] = {
        "reddit": reddit.flag,
        "twitter": twitter.flag,
        "blogger": blogger.flag,
        "amazon": amazon.flag,
        "none": generic.flag,
    }
    return table[kind]


def first_reason(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """``checks`` are ``(reason, drop_condition)`` in order; the first true condition names the reason."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for reason, cond in reversed(checks):
        expr = pl.when(cond).then(pl.lit(reason)).otherwise(expr)
    return expr.alias("reason")


__all__ = ["FilterConfig", "RuleSet", "first_reason", "get_rules"]
