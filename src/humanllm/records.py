"""The one record schema every reader emits, the items and rejects tables, and text normalisation.

Lengths in the rule filters are measured on *normalised* text: HTML entities unescaped
(``&amp;`` -> ``&``, ``&#x200B;`` -> zero-width space, then removed), zero-width characters removed,
and every run of whitespace collapsed to one space, stripped at both ends.
"""

from __future__ import annotations

import html
import re

import polars as pl

SOURCES = ("reddit", "twitter", "blogger", "amazon", "jsonl")

#: Columns of the ``records`` table (every reader, every source).
RECORD_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "record_id": pl.String(),
    "user_id": pl.String(),
    "created_at": pl.Datetime("us", "UTC"),
    "text": pl.String(),
    "title": pl.String(),
    "meta": pl.String(),  # JSON object, source-specific fields
}

#: Columns of ``comments/``: what users wrote under other people's posts (Reddit comments,
#: Twitter replies), for the personalized commenting task.
COMMENT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "comment_id": pl.String(),
    "user_id": pl.String(),
    "created_at": pl.Datetime("us", "UTC"),
    "text": pl.String(),
    "post_id": pl.String(),  # the post (tweet) the thread answers
    "parent_id": pl.String(),  # what the comment answers directly (the post, or a comment)
    "meta": pl.String(),  # JSON object: score, subreddit, ...
}

#: Columns of the Amazon ``items`` table.
ITEM_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "item_id": pl.String(),  # parent_asin
    "title": pl.String(),
    "main_category": pl.String(),
    "categories": pl.String(),  # JSON list
    "description": pl.String(),  # joined text
    "features": pl.String(),  # joined text
    "price": pl.Float64(),
    "store": pl.String(),
    "meta": pl.String(),  # JSON object: details, rating_number, ...
}

#: Columns of the ``rejects`` table: every dropped record, with the stage and the reason.
REJECT_SCHEMA: dict[str, pl.DataType] = {
    "stage": pl.String(),
    "source": pl.String(),
    "record_id": pl.String(),
    "reason": pl.String(),  # short rule name, e.g. "reddit.min_score" or "parse.bad_json"
    "detail": pl.String(),  # human-readable detail: file:line, error message, raw snippet
}

_WS = re.compile(r"\s+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def normalize_text(text: str | None) -> str:
    """Normalise one string exactly like :func:`normalize_expr` does for a column."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(text)
    text = _ZERO_WIDTH.sub("", text)
    return _WS.sub(" ", text).strip()


def normalize_expr(col: pl.Expr) -> pl.Expr:
    """Vectorised :func:`normalize_text`. Rows that contain ``&`` go through ``html.unescape``
    (rare, so the Python fallback touches few rows); everything else stays in Rust."""
    only_amp = pl.when(col.str.contains("&", literal=True)).then(col)  # null elsewhere
    unescaped = pl.coalesce(
        only_amp.map_elements(html.unescape, return_dtype=pl.String, skip_nulls=True), col
    )
    return (
        unescaped.str.replace_all("[\u200b\u200c\u200d\u2060\ufeff]", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .fill_null("")
    )


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast ``df`` to ``schema`` (missing nullable columns become nulls)."""
    cols = []
    for name, dtype in schema.items():
        if name in df.columns:
            cols.append(pl.col(name).cast(dtype))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    return df.select(cols)


def rejects_frame(
    stage: str, source: str, record_ids: list[str], reasons: list[str], details: list[str]
) -> pl.DataFrame:
    n = len(record_ids)
    return pl.DataFrame(
        {
            "stage": [stage] * n,
            "source": [source] * n,
            "record_id": record_ids,
            "reason": reasons,
            "detail": details,
        },
        schema=REJECT_SCHEMA,
    )
