"""Reader for Reddit submissions: ``HuggingFaceGECLM/REDDIT_submissions`` Parquet (every column a
string) and Pushshift-style JSON lines (plain, ``.gz`` or ``.zst``) with the same field names.

Columns are read by name, so files may differ in column set and order. ``id``, ``author``,
``title`` and ``created_utc`` are required: a Parquet file without one of them is a
:class:`SourceError` naming the file; a row whose value is missing or does not parse is a reject
(``parse.missing_field``, ``parse.bad_time``, ``parse.bad_number``) naming ``file:row N`` (Parquet)
or ``file:N`` (JSONL line). Every other column is optional (null when absent). Stringified nulls
("", "None", "nan") count as missing; a number written with spaces around it counts as
unparseable (the real exports have none).

Record: ``record_id`` = post id, ``user_id`` = author, ``created_at`` from ``created_utc`` (unix
seconds as int, float or string such as "1.6e9"), ``title`` = normalised title, ``text`` =
normalised ``title + "\\n\\n" + selftext`` when the post has a body, else the normalised title
alone (a ``selftext`` of "", "[removed]" or "[deleted]" is not a body). Normalisation is that of
:mod:`humanllm.records` (entities unescaped, zero-width characters dropped, whitespace collapsed).

``meta`` keys (the rules read the first five back; they come first, in this order):

- ``score``, ``num_comments``: int or null (unparseable values are rejected above);
- ``distinguished``: "moderator" / "admin" / "special" or null;
- ``selftext_state``: "text" (a body), "empty" (no body: a link post), "removed" or "deleted";
- ``removed_by_category``: Reddit's removal cause ("moderator", "deleted", ...) or null;
- ``subreddit``: string or null; ``over_18``, ``stickied``: bool or null;
- ``url``, ``permalink``, ``domain``, ``author_flair_text``, ``link_flair_text``: string or null.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl

from humanllm.filters.config import RedditRules
from humanllm.sources import Chunk, expand_paths
from humanllm.sources._rt_io import PATTERNS, missing, parsed_batches, split_rejects
from humanllm.sources._rt_parse import (
    NULL_WORDS,
    as_records,
    as_text,
    bad_value,
    normalize,
    nullify,
    to_bool,
    to_int,
    to_utc,
    with_meta_fields,
)
from humanllm.sources.comments import read_comments
from humanllm.sources.config import RedditSource
from humanllm.sources.kind import source_kind

COLUMNS = (
    "id", "author", "subreddit", "title", "selftext", "created_utc", "score", "num_comments",
    "distinguished", "over_18", "stickied", "url", "permalink", "removed_by_category",
    "author_flair_text", "link_flair_text", "domain",
)  # fmt: skip
REQUIRED = ("id", "author", "title", "created_utc")
#: Meta fields the rules read back, with their types (the first keys of ``meta``, in order).
RULE_FIELDS: dict[str, pl.DataType] = {
    "score": pl.Int64(),
    "num_comments": pl.Int64(),
    "distinguished": pl.String(),
    "selftext_state": pl.String(),
    "removed_by_category": pl.String(),
}
_OPTIONAL_TEXT = ("subreddit", "url", "permalink", "domain", "author_flair_text", "link_flair_text")


def with_rule_fields(records: pl.LazyFrame) -> pl.LazyFrame:
    """Ingested records plus the :data:`RULE_FIELDS` columns, read back from ``meta``."""
    return with_meta_fields(records, RULE_FIELDS)


@source_kind(
    RedditSource,
    platform="Reddit post",
    rules="humanllm.filters.reddit:flag",
    rules_config=RedditRules,
    path_fields=("path", "comments"),
    comments=read_comments,
    fused="humanllm.filters.reddit:read_filtered",
)
def read(cfg: RedditSource) -> Iterator[Chunk]:
    """Stream records (and parse rejects) of every file under ``cfg.path``."""
    for typed, rejects in typed_batches(cfg):
        yield Chunk(records=to_records(typed, cfg.source_name), rejects=rejects)


def typed_batches(cfg: RedditSource) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """``(typed, rejects)`` per batch: parsed raw fields, before text normalisation and meta.

    ``typed`` has ``record_id, user_id, created_at, title, selftext`` (raw), ``selftext_state``
    and the rule fields typed (:data:`RULE_FIELDS`); the other optional columns pass through raw
    and :func:`to_records` parses them while it finishes the rows. The rules can run on it before
    normalisation (``sources.reddit_scan.finish_typed``).
    """
    files = expand_paths(cfg.path, PATTERNS)
    yield from parsed_batches(files, COLUMNS, REQUIRED, cfg.batch_size, parse_batch)


def rule_inputs(schema: Mapping[str, pl.DataType]) -> dict[str, pl.Expr]:
    """The fields the cheap rules read, parsed from raw columns of the given dtypes: ``user_id``,
    ``distinguished``, ``score``, ``num_comments``. One definition for the reader and for the
    rules' pushed-down scan (``sources.reddit_scan.read_pushdown``)."""
    return {
        "user_id": nullify(as_text(pl.col("author"), schema["author"])),
        "distinguished": nullify(as_text(pl.col("distinguished"), schema["distinguished"])),
        "score": to_int(pl.col("score"), schema["score"]),
        "num_comments": to_int(pl.col("num_comments"), schema["num_comments"]),
    }


def selftext_state(body: pl.Expr) -> pl.Expr:
    """ "text", "empty", "removed" or "deleted" from the raw body (exact values, as Reddit
    writes them)."""
    return (
        pl.when(body.is_in(NULL_WORDS) | body.is_null())
        .then(pl.lit("empty"))
        .when(body == "[removed]")
        .then(pl.lit("removed"))
        .when(body == "[deleted]")
        .then(pl.lit("deleted"))
        .otherwise(pl.lit("text"))
    )


def text_inputs(schema: Mapping[str, pl.DataType]) -> dict[str, pl.Expr]:
    """The fields the text rules read before normalisation (``title``, ``selftext``,
    ``selftext_state``, ``removed_by_category``), parsed from raw columns as :func:`parse_batch`
    parses them, for the rules' scan."""
    body = as_text(pl.col("selftext"), schema["selftext"])
    return {
        "title": as_text(pl.col("title"), schema["title"]),
        "selftext": body,
        "selftext_state": selftext_state(body),
        "removed_by_category": nullify(
            as_text(pl.col("removed_by_category"), schema["removed_by_category"])
        ),
    }


def parse_suspect(schema: Mapping[str, pl.DataType]) -> pl.Expr:
    """True for every row :func:`parse_batch` could reject (and a few it would not): a cheap lazy
    test, so a pushed-down scan can send only these rows through the exact parser."""
    created = pl.col("created_utc")
    if isinstance(schema["created_utc"], pl.Datetime | pl.Date):
        time_ok = created.is_not_null()
    else:
        secs = created.cast(pl.Float64, strict=False)
        time_ok = secs.is_finite() & (secs.abs() < 1e14)
    inputs = rule_inputs(schema)
    return (
        nullify(as_text(pl.col("id"), schema["id"])).is_null()
        | inputs["user_id"].is_null()
        | pl.col("title").is_null()
        | ~time_ok
        | bad_value(pl.col("score"), inputs["score"])
        | bad_value(pl.col("num_comments"), inputs["num_comments"])
    ).fill_null(True)


def parse_batch(raw: pl.DataFrame, path: Path, unit: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One raw batch -> ``(typed, rejects)`` (see :func:`typed_batches`); ``unit`` is "row "
    for Parquet rows and "" for JSONL lines, as rejects name them."""
    s = raw.schema
    inputs = rule_inputs(s)
    raw = raw.with_columns(
        nullify(as_text(pl.col("id"), s["id"])).alias("id"),
        inputs["user_id"].alias("author"),
        inputs["distinguished"].alias("distinguished"),
        nullify(as_text(pl.col("removed_by_category"), s["removed_by_category"])).alias(
            "removed_by_category"
        ),
        as_text(pl.col("title"), s["title"]),
        as_text(pl.col("selftext"), s["selftext"]),
        to_utc(raw["created_utc"]).alias("_created"),
        inputs["score"].alias("_score"),
        inputs["num_comments"].alias("_comments"),
    )
    body = pl.col("selftext")
    created = nullify(as_text(pl.col("created_utc"), s["created_utc"]))
    checks = [
        *missing(
            {
                "id": pl.col("id"),
                "author": pl.col("author"),
                "title": pl.col("title"),
                "created_utc": created,
            }
        ),
        ("parse.bad_time", pl.col("_created").is_null(), "created_utc is not a unix time"),
        ("parse.bad_number", bad_value(pl.col("score"), pl.col("_score")), "score is not a number"),
        (
            "parse.bad_number",
            bad_value(pl.col("num_comments"), pl.col("_comments")),
            "num_comments is not a number",
        ),
    ]
    ok, rejects = split_rejects(raw, checks, "id", path, unit)
    typed = ok.select(
        pl.col("id").alias("record_id"),
        pl.col("author").alias("user_id"),
        pl.col("_created").alias("created_at"),
        "title",
        "selftext",
        selftext_state(body).alias("selftext_state"),
        pl.col("_score").alias("score"),
        pl.col("_comments").alias("num_comments"),
        "distinguished",
        "removed_by_category",
        *_OPTIONAL_TEXT,
        "over_18",
        "stickied",
    )
    return typed, rejects


def to_records(typed: pl.DataFrame, source: str = "reddit") -> pl.DataFrame:
    """Finish typed rows into the record schema: normalised title and text, ``meta`` JSON."""
    title = normalize(typed["title"])
    body = normalize(
        typed.select(
            pl.when(pl.col("selftext_state") == "text").then("selftext").otherwise(pl.lit(""))
        ).to_series()
    )
    text = (
        pl.when(body == "")
        .then(title)
        .when(title == "")
        .then(body)
        .otherwise(pl.concat_str([title, body], separator=" "))
    )
    s = typed.schema
    meta = {
        **{k: pl.col(k) for k in RULE_FIELDS},
        "subreddit": nullify(as_text(pl.col("subreddit"), s["subreddit"])),
        "over_18": to_bool(pl.col("over_18"), s["over_18"]),
        "stickied": to_bool(pl.col("stickied"), s["stickied"]),
        **{k: nullify(as_text(pl.col(k), s[k])) for k in _OPTIONAL_TEXT if k != "subreddit"},
    }
    return as_records(typed, source, text, pl.lit(title), meta)
