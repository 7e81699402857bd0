"""Rule filters for blogger (placeholder until the reader/rules land)."""

from __future__ import annotations

import polars as pl


def flag(records: pl.LazyFrame, rules: object, source: object) -> pl.LazyFrame:
    raise NotImplementedError("blogger rules")
