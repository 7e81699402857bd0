"""Reader for tweets: ``enryu43/twitter100m_tweets`` Parquet (``user, id, tweet, replies,
retweets, likes, quotes, date``), optionally joined with ``enryu43/twitter100m_users`` (``user,
id, verified, followers, description, location``) named by ``users_path``. JSON lines with the
same field names are read too.

The published files hold ``id`` and the counts as int64 and ``date`` as a string written like
``2022-12-13 23:59:45+00:00``; the reader also takes ids and counts as strings and ``date`` as a
timestamp, ISO string with ``T``/``Z`` or unix seconds. ``user``, ``id``, ``tweet`` and ``date``
are required (a file without one is a :class:`SourceError` naming it; a row with an empty or
unparseable one is a reject naming ``file:row N``); the counts are optional.

Record: ``record_id`` = tweet id, ``user_id`` = user name as written, ``created_at`` = ``date``
in UTC, ``text`` = the normalised tweet (links, mentions and hashtags are kept: the rules read
them), ``title`` = null.

``meta`` keys, in this order (the rules read the first three back):

- ``verified`` (bool), ``followers`` (int), ``description`` (normalised string): from the users
  table, joined on the user name without regard to case; null when there is no users table or
  the user is not in it (when a name appears twice there, the row with most followers wins);
- ``replies``, ``retweets``, ``likes``, ``quotes``: int or null;
- ``location``: string or null, from the users table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from humanllm.filters.config import TwitterRules
from humanllm.sources import Chunk, SourceError, expand_paths
from humanllm.sources._rt_io import (
    PATTERNS,
    is_parquet,
    jsonl_batches,
    missing,
    parquet_batches,
    parsed_batches,
    split_rejects,
)
from humanllm.sources._rt_parse import (
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
from humanllm.sources.config import TwitterSource
from humanllm.sources.kind import source_kind

COLUMNS = ("user", "id", "tweet", "replies", "retweets", "likes", "quotes", "date")
REQUIRED = ("user", "id", "tweet", "date")
COUNTS = ("replies", "retweets", "likes", "quotes")
USER_COLUMNS = ("user", "verified", "followers", "description", "location")
#: Meta fields the rules read back, with their types (the first keys of ``meta``, in order).
RULE_FIELDS: dict[str, pl.DataType] = {
    "verified": pl.Boolean(),
    "followers": pl.Int64(),
    "description": pl.String(),
}


def with_rule_fields(records: pl.LazyFrame) -> pl.LazyFrame:
    """Ingested records plus the :data:`RULE_FIELDS` columns, read back from ``meta``."""
    return with_meta_fields(records, RULE_FIELDS)


_USERS_SCHEMA = {
    "_key": pl.String(),
    "verified": pl.Boolean(),
    "followers": pl.Int64(),
    "description": pl.String(),
    "location": pl.String(),
}


@source_kind(
    TwitterSource,
    platform="tweet",
    rules="humanllm.filters.twitter:flag",
    rules_config=TwitterRules,
    path_fields=("path", "users_path", "replies"),
    comments=read_comments,
    early_reasons="humanllm.filters.twitter:EARLY_REASONS",
)
def read(cfg: TwitterSource) -> Iterator[Chunk]:
    """Stream records (and parse rejects) of every tweets file under ``cfg.path``."""
    users = load_users(cfg.users_path, cfg.batch_size) if cfg.users_path else None
    files = expand_paths(cfg.path, PATTERNS)
    for typed, rejects in parsed_batches(files, COLUMNS, REQUIRED, cfg.batch_size, _parse):
        yield Chunk(records=to_records(typed, users, cfg.source_name), rejects=rejects)


def load_users(path: str, batch_size: int) -> pl.DataFrame:
    """The users table, one row per lower-cased user name (``_key``)."""
    parts = [pl.DataFrame(schema=_USERS_SCHEMA)]
    for file in expand_paths(path, PATTERNS):
        if is_parquet(file):
            batches = parquet_batches(file, USER_COLUMNS, ("user",), batch_size)
        else:
            batches = (raw for raw, _ in jsonl_batches(file, USER_COLUMNS, batch_size))
        for raw in batches:
            s = raw.schema
            parts.append(
                raw.select(
                    nullify(as_text(pl.col("user"), s["user"])).str.to_lowercase().alias("_key"),
                    to_bool(pl.col("verified"), s["verified"]).alias("verified"),
                    to_int(pl.col("followers"), s["followers"]).alias("followers"),
                    nullify(as_text(pl.col("description"), s["description"])).alias("description"),
                    nullify(as_text(pl.col("location"), s["location"])).alias("location"),
                ).filter(pl.col("_key").is_not_null())
            )
    users = pl.concat(parts)
    if users.height == 0:
        raise SourceError(f"{path}: the users table holds no users")
    users = users.sort("followers", descending=True, nulls_last=True).unique("_key", keep="first")
    return users.with_columns(nullify(pl.lit(normalize(users["description"]))).alias("description"))


def _parse(raw: pl.DataFrame, path: Path, unit: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    s = raw.schema
    # a float id (an export that went through NaN) is cast back to an integer first
    tweet_id = (
        as_text(pl.col("id").cast(pl.Int64, strict=False), pl.Int64())
        if s["id"].is_float()
        else as_text(pl.col("id"), s["id"])
    )
    raw = raw.with_columns(
        nullify(as_text(pl.col("user"), s["user"])).alias("user"),
        nullify(tweet_id).alias("_id"),
        as_text(pl.col("tweet"), s["tweet"]).alias("tweet"),
        to_utc(raw["date"]).alias("_created"),
        *(to_int(pl.col(c), s[c]).alias(f"_{c}") for c in COUNTS),
    )
    date = nullify(as_text(pl.col("date"), s["date"]))
    checks = [
        *missing(
            {"id": pl.col("_id"), "user": pl.col("user"), "tweet": pl.col("tweet"), "date": date}
        ),
        ("parse.bad_time", pl.col("_created").is_null(), "date is not a date"),
        *(
            ("parse.bad_number", bad_value(pl.col(c), pl.col(f"_{c}")), f"{c} is not a number")
            for c in COUNTS
        ),
    ]
    ok, rejects = split_rejects(raw, checks, "_id", path, unit)
    typed = ok.select(
        pl.col("_id").alias("record_id"),
        pl.col("user").alias("user_id"),
        pl.col("_created").alias("created_at"),
        "tweet",
        *(pl.col(f"_{c}").alias(c) for c in COUNTS),
    )
    return typed, rejects


def to_records(
    typed: pl.DataFrame, users: pl.DataFrame | None, source: str = "twitter"
) -> pl.DataFrame:
    """Finish typed rows into the record schema, with the users table joined into ``meta``."""
    typed = typed.with_columns(pl.Series("text", normalize(typed["tweet"])))
    if users is not None:
        typed = typed.with_columns(pl.col("user_id").str.to_lowercase().alias("_key")).join(
            users, on="_key", how="left", maintain_order="left"
        )
    else:
        typed = typed.with_columns(
            pl.lit(None, dtype=t).alias(c) for c, t in _USERS_SCHEMA.items() if c != "_key"
        )
    meta = {
        **{k: pl.col(k) for k in RULE_FIELDS},
        **{c: pl.col(c) for c in COUNTS},
        "location": pl.col("location"),
    }
    return as_records(typed, source, pl.col("text"), pl.lit(None, dtype=pl.String), meta)
