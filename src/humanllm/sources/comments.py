"""Readers for what users wrote under other people's posts, for the personalized commenting task
(§3.1) on Reddit and Twitter: ``comments:`` of a Reddit source, ``replies:`` of a Twitter source.

- Reddit comments: ``HuggingFaceGECLM/REDDIT_comments`` Parquet (every column a string) or
  Pushshift ``RC_*`` JSON lines (plain, ``.gz`` or ``.zst``): ``id``, ``author``, ``body``,
  ``created_utc``, ``link_id`` (``t3_<post id>``, the post the thread belongs to) and
  ``parent_id`` (``t3_<post id>`` for a top-level comment, ``t1_<comment id>`` for a reply) are
  read by name; ``score``, ``subreddit``, ``distinguished`` go to ``meta``.
- Twitter replies: tweets in the layout of ``enryu43/twitter100m_tweets`` (``id``, ``user``,
  ``tweet``, ``date``) plus the id of the tweet they answer, in a column named
  ``in_reply_to_id``, ``in_reply_to_status_id`` (the Twitter API's name) or ``reply_to``. The
  public twitter100m dump has no such column, so a replies file comes from another export.

Rows become :data:`humanllm.records.COMMENT_SCHEMA` rows: ``post_id`` is the post (Reddit) or the
tweet (Twitter) answered, without its ``t3_`` prefix; ``parent_id`` is what the comment answers
directly (the post itself for a top-level comment). Text is normalised as records are. A row
without an id, author, text, time or post is a reject (``parse.missing_field``,
``parse.bad_time``) naming ``file:row N`` or ``file:N``; nothing else is decided here: the genome
stage keeps the comments of its users on posts it knows (see ``curation.genome``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

import polars as pl

from humanllm.sources import Chunk, SourceError, expand_paths
from humanllm.sources._rt_io import (
    PATTERNS,
    is_parquet,
    missing,
    parquet_schema,
    parsed_batches,
    split_rejects,
)
from humanllm.sources._rt_parse import as_text, encode_meta, normalize, nullify, to_int, to_utc
from humanllm.sources.config import RedditSource, TwitterSource

REDDIT_COLUMNS = (
    "id", "author", "body", "created_utc", "link_id", "parent_id", "score", "subreddit",
    "distinguished",
)  # fmt: skip
REDDIT_REQUIRED = ("id", "author", "body", "created_utc", "link_id")
#: Names a replies file may give the id of the tweet answered (the first one present is used).
REPLY_TO = ("in_reply_to_id", "in_reply_to_status_id", "reply_to")
TWITTER_COLUMNS = ("id", "user", "tweet", "date", *REPLY_TO)


def read_comments(cfg: RedditSource | TwitterSource) -> Iterator[Chunk]:
    """Stream comment rows (``Chunk.records`` holds :data:`COMMENT_SCHEMA` rows) and rejects of
    the source's ``comments`` (Reddit) or ``replies`` (Twitter) files; nothing when unset."""
    path = cfg.comments if isinstance(cfg, RedditSource) else cfg.replies
    if not path:
        return
    reddit = isinstance(cfg, RedditSource)
    columns = REDDIT_COLUMNS if reddit else TWITTER_COLUMNS
    required = REDDIT_REQUIRED if reddit else ("id", "user", "tweet", "date")
    files: Iterable[Path] = expand_paths(path, PATTERNS)
    if not reddit:
        files = _name_the_tweet(files, columns, required)
    for comments, rejects in parsed_batches(
        files, columns, required, cfg.batch_size, partial(_parse, cfg)
    ):
        yield Chunk(records=comments, rejects=rejects)


def _name_the_tweet(
    files: Iterable[Path], columns: tuple[str, ...], required: tuple[str, ...]
) -> Iterator[Path]:
    """The replies files, each checked as it is reached: a Parquet one has a column naming the
    tweet answered (a JSONL line without it is a reject)."""
    for file in files:
        if is_parquet(file) and not any(
            c in parquet_schema(file, columns, required) for c in REPLY_TO
        ):
            raise SourceError(
                f"{file}: a replies file needs the id of the tweet answered, in a column "
                f"named {' or '.join(REPLY_TO)}"
            )
        yield file


def _strip_kind(col: pl.Expr) -> pl.Expr:
    """``t3_abc`` -> ``abc`` (Reddit's fullname prefixes); other ids unchanged."""
    return col.str.replace(r"^t[0-9]_", "")


def _parse(
    cfg: RedditSource | TwitterSource, raw: pl.DataFrame, path: Path, unit: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    s = raw.schema
    if isinstance(cfg, RedditSource):
        fields = {
            "id": nullify(as_text(pl.col("id"), s["id"])),
            "author": nullify(as_text(pl.col("author"), s["author"])),
            "text": as_text(pl.col("body"), s["body"]),
            "post": _strip_kind(nullify(as_text(pl.col("link_id"), s["link_id"]))),
            "parent": _strip_kind(nullify(as_text(pl.col("parent_id"), s["parent_id"]))),
        }
        time_col, text_col, post_col = "created_utc", "body", "link_id"
        meta = {
            "score": to_int(pl.col("score"), s["score"]),
            "subreddit": nullify(as_text(pl.col("subreddit"), s["subreddit"])),
            "distinguished": nullify(as_text(pl.col("distinguished"), s["distinguished"])),
        }
    else:
        reply_to = pl.coalesce([nullify(as_text(pl.col(c), s[c])) for c in REPLY_TO])
        fields = {
            "id": nullify(as_text(pl.col("id"), s["id"])),
            "author": nullify(as_text(pl.col("user"), s["user"])),
            "text": as_text(pl.col("tweet"), s["tweet"]),
            "post": reply_to,
            "parent": reply_to,
        }
        time_col, text_col, post_col = "date", "tweet", REPLY_TO[0]
        meta = {}
    raw = raw.with_columns(
        *(e.alias(f"_{k}") for k, e in fields.items()),
        to_utc(raw[time_col]).alias("_created"),
    )
    named = {"id": "_id", "author": "_author", text_col: "_text", post_col: "_post"}
    checks = [
        *missing({name: pl.col(col) for name, col in named.items()}),
        ("parse.bad_time", pl.col("_created").is_null(), f"{time_col} is not a time"),
    ]
    ok, rejects = split_rejects(raw, checks, "_id", path, unit)
    comments = ok.select(
        pl.lit(cfg.source_name).alias("source"),
        pl.col("_id").alias("comment_id"),
        pl.col("_author").alias("user_id"),
        pl.col("_created").alias("created_at"),
        pl.lit(normalize(ok["_text"])).alias("text"),
        pl.col("_post").alias("post_id"),
        pl.coalesce("_parent", "_post").alias("parent_id"),
        encode_meta(meta) if meta else pl.lit("{}").alias("meta"),
    )
    return comments, rejects
