"""Rule filters for twitter (placeholder until the reader/rules land)."""

from __future__ import annotations

import polars as pl


def flag(records: pl.LazyFrame, rules: object, source: object) -> pl.LazyFrame:
    raise NotImplementedError("twitter rules")
