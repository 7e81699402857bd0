"""Rules for a generic JSONL source with ``filter_as: none``: the normalised-length minimum only."""

from __future__ import annotations

import polars as pl

from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig


def flag(records: pl.LazyFrame, rules: FilterConfig, source: object) -> pl.LazyFrame:
    min_chars = int(getattr(source, "min_chars", 0))
    return records.with_columns(
        first_reason(
            [("jsonl.min_chars", pl.col("text").fill_null("").str.len_chars() < min_chars)]
        )
    )
