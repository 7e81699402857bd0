"""Rule filters for reddit (placeholder until the reader/rules land)."""

from __future__ import annotations

import polars as pl


def flag(records: pl.LazyFrame, rules: object, source: object) -> pl.LazyFrame:
    raise NotImplementedError("reddit rules")
