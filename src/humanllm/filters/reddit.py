"""Reddit rule filters (paper §2.1): keep posts with score >= 2, num_comments >= 2 and >= 300
characters of normalised text; drop posts of bots, moderators, deleted accounts and system users,
and removed or deleted posts. Thresholds come from :class:`humanllm.filters.config.RedditRules`.

Rules, in the order a record is checked (the first that fails names the reject):

- ``reddit.deleted_author``: the author is ``[deleted]`` (the account was deleted).
- ``reddit.system_user``: the author is a system account (:data:`SYSTEM_USERS`: AutoModerator,
  the ``reddit`` admin account, RedditCareResources, ...).
- ``reddit.bot``: the author is a known bot (:data:`KNOWN_BOTS` plus ``extra_bots``, any case)
  or the name says so: ``bot`` as the whole name, after ``_``/``-`` at the end ("gif_bot",
  "tl_dr-bot_2") or before them at the start ("bot-9000"), or a CamelCase ``Bot`` suffix
  ("RemindMeBot"). A lowercase name merely ending in "bot" is *not* taken as a bot ("Talbot",
  "abbot", "cabot" are people), which is why the list exists.
- ``reddit.moderator``: the post is distinguished (``distinguished`` = moderator, admin, special).
- ``reddit.min_score``, ``reddit.min_comments``: below the threshold, or missing.
- ``reddit.removed``: the body is ``[removed]``/``[deleted]`` or Reddit set ``removed_by_category``.
- ``reddit.min_chars``: normalised ``text`` (title + body) shorter than ``min_chars``.

Author and numeric rules come first and the text rules last. :func:`flag` applies them to
ingested records (the stage ``filter``). :func:`read_filtered` runs reader and rules as one
pass and reaches the same verdicts faster: the cheap rules are pushed into the Parquet scan and
only the rows they keep are decoded, normalised and encoded (see ``benchmarks/filters.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import polars as pl

from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig, RedditRules
from humanllm.records import RECORD_SCHEMA
from humanllm.sources import SourceError, expand_paths, reddit
from humanllm.sources._rt_io import PATTERNS, batches, is_parquet, parquet_scan
from humanllm.sources._rt_parse import as_text, with_meta_fields
from humanllm.sources.config import RedditSource
from humanllm.sources.reddit import RULE_FIELDS, to_records

_NO_DETAIL = pl.lit(None, dtype=pl.String).alias("detail")

#: System accounts (compared lowercased).
SYSTEM_USERS = frozenset({"automoderator", "reddit", "redditcareresources"})
#: Well-known Reddit bots (compared lowercased); the name rules alone would miss many of them,
#: e.g. "autowikibot", "totesmessenger", "savevideo", "nice-scores".
KNOWN_BOTS = frozenset(
    {
        "autowikibot", "totesmessenger", "tweetposter", "sneakpeekbot", "savevideo", "savevideobot",
        "stabbot", "vredditdownloader", "repostsleuthbot", "remindmebot", "wikitextbot",
        "wikisummarizerbot", "imguralbumbot", "gifreversingbot", "haikusbot", "nice-scores",
        "b0trank", "goodbot_badbot", "commonmisspellingbot", "timezone_bot", "converter-bot",
        "mtgcardfetcher", "youtubefactsbot", "anti-gif-bot", "gifv-bot", "auddbot",
        "image_linker_bot", "lyrics-matcher-bot",
    }
)  # fmt: skip
_BOT_NAME = r"(?i:(?:^|[_-])bot(?:[_-]?[0-9]+)?$)|(?i:^bot[_-])|[a-z0-9]Bot(?:[_-]?[0-9]+)?$"


def is_bot(author: pl.Expr, extra: list[str], lower: pl.Expr | None = None) -> pl.Expr:
    """The bot rule on an author column (known names, ``extra`` names, name patterns)."""
    lower = author.str.to_lowercase() if lower is None else lower
    return lower.is_in(sorted(KNOWN_BOTS | {n.lower() for n in extra})) | author.str.contains(
        _BOT_NAME
    )


def cheap_checks(
    r: RedditRules, f: Mapping[str, pl.Expr] | None = None
) -> list[tuple[str, pl.Expr]]:
    """Author and numeric rules over the fields ``user_id``, ``distinguished``, ``score`` and
    ``num_comments`` (columns of those names unless ``f`` gives other expressions). Every
    condition is a non-null boolean."""
    f = f or {k: pl.col(k) for k in ("user_id", "distinguished", "score", "num_comments")}
    author = f["user_id"].fill_null("")
    lower = author.str.to_lowercase()
    return [
        ("reddit.deleted_author", author == "[deleted]"),
        ("reddit.system_user", lower.is_in(sorted(SYSTEM_USERS))),
        ("reddit.bot", is_bot(author, r.extra_bots, lower)),
        ("reddit.moderator", f["distinguished"].is_not_null() & (f["distinguished"] != "")),
        ("reddit.min_score", f["score"].fill_null(r.min_score - 1) < r.min_score),
        ("reddit.min_comments", f["num_comments"].fill_null(r.min_comments - 1) < r.min_comments),
    ]


def text_checks(r: RedditRules) -> list[tuple[str, pl.Expr]]:
    """The rules on the post itself: removed/deleted, then the normalised length."""
    removed = pl.col("selftext_state").is_in(["removed", "deleted"]).fill_null(False)
    return [
        ("reddit.removed", removed | (pl.col("removed_by_category").fill_null("") != "")),
        ("reddit.min_chars", pl.col("text").fill_null("").str.len_chars() < r.min_chars),
    ]


def flag(records: pl.LazyFrame, rules: FilterConfig, source: object = None) -> pl.LazyFrame:
    """The staged path: ingested records (rule fields read back from ``meta``) plus ``reason``."""
    r = rules.reddit
    lf = with_meta_fields(records, RULE_FIELDS)
    lf = lf.with_columns(first_reason([*cheap_checks(r), *text_checks(r)]))
    return lf.drop(list(RULE_FIELDS))


def flag_typed(
    typed: pl.DataFrame, rules: FilterConfig, source: str = "reddit", *, cheap_done: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parsed rows (``sources.reddit.typed_batches``) -> ``(kept records, rejects)``: the same
    verdicts as :func:`flag` on ``to_records(typed)``, normalising only what the cheap rules, the
    removed rule and a raw-length bound keep (normalising never lengthens a text, so raw bytes
    plus the separator bound its length). ``cheap_done``: the rows already passed the cheap
    rules (a pushed-down scan), which are then not evaluated again."""
    r = rules.reddit
    body_bytes = pl.when(pl.col("selftext_state") == "text").then(
        pl.col("selftext").str.len_bytes() + 1
    )
    bound = pl.col("title").str.len_bytes().fill_null(0) + body_bytes.fill_null(0)
    removed, _ = text_checks(r)
    early = first_reason(
        [
            *([] if cheap_done else cheap_checks(r)),
            removed,
            ("reddit.min_chars", bound < r.min_chars),
        ]
    )
    verdict = typed.select("record_id", early, _NO_DETAIL)
    dropped = verdict["reason"].is_not_null()
    records = to_records(typed.filter(~dropped), source).with_columns(
        first_reason(text_checks(r)[1:])
    )
    short = records["reason"].is_not_null()
    late = records.filter(short).select("record_id", "reason", _NO_DETAIL)
    return records.filter(~short).drop("reason"), pl.concat([verdict.filter(dropped), late])


def read_filtered(
    cfg: RedditSource, rules: FilterConfig
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """The fused path (reader and rules in one pass): ``(kept records, rejects)`` per batch,
    the same verdicts as ingest followed by :func:`flag`, rejects included.

    For Parquet the cheap rules are pushed into the scan, so titles and bodies are decoded only
    for the rows they keep; the rows they drop get their verdict inside a second scan of the
    short columns (run concurrently), except the rare ones that might not parse, which go
    through the reader's parser. The rejects of a file come as one frame, after its records.
    """
    r = rules.reddit
    for path in expand_paths(cfg.path, PATTERNS):
        if not is_parquet(path):
            for typed, bad in reddit.typed_batches(cfg.model_copy(update={"path": str(path)})):
                kept, rejects = flag_typed(typed, rules, cfg.source_name)
                yield kept, pl.concat([bad, rejects])
            continue
        lf = parquet_scan(path, reddit.COLUMNS, reddit.REQUIRED)
        schema = lf.collect_schema()
        checks = cheap_checks(r, reddit.rule_inputs(schema))
        fails = pl.any_horizontal([cond for _, cond in checks])
        record_id = as_text(pl.col("id"), schema["id"]).alias("record_id")
        suspect = reddit.parse_suspect(schema).alias("_suspect")
        # the verdicts of the dropped rows (short columns only) run on Polars' threads meanwhile
        dropped = (
            lf.filter(fails)
            .select("_row", record_id, first_reason(checks), suspect)
            .collect(background=True)
        )
        try:
            for raw in batches(lf.filter(~fails), path, cfg.batch_size):
                typed, bad = reddit.parse_batch(raw, path, "row ")
                kept, rejects = flag_typed(typed, rules, cfg.source_name, cheap_done=True)
                yield kept, pl.concat([bad, rejects])
            try:
                verdict = dropped.fetch_blocking()
            except (pl.exceptions.PolarsError, OSError) as e:
                raise SourceError(f"{path}: cannot read Parquet data ({e})") from e
        finally:
            dropped.cancel()
        rows = verdict.filter("_suspect")["_row"]
        rejects = verdict.filter(~pl.col("_suspect")).select("record_id", "reason", _NO_DETAIL)
        yield pl.DataFrame(schema=RECORD_SCHEMA), pl.concat([rejects, _exact(lf, rows, path, r)])


def _exact(lf: pl.LazyFrame, rows: pl.Series, path: Path, r: RedditRules) -> pl.DataFrame:
    """Rejects for dropped rows that might not parse: the reader's parser names the problem,
    or, when they do parse, the first cheap rule that fails."""
    if rows.len() == 0:
        return pl.DataFrame(
            schema={"record_id": pl.String, "reason": pl.String, "detail": pl.String}
        )
    raw = lf.filter(pl.col("_row").is_in(rows.implode())).collect()
    typed, bad = reddit.parse_batch(raw, path, "row ")
    return pl.concat([bad, typed.select("record_id", first_reason(cheap_checks(r)), _NO_DETAIL)])
