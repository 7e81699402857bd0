"""Reddit rule filters (paper §2.1): keep posts with score >= 2, num_comments >= 2 and >= 300
characters of normalised text; drop posts of bots, moderators, deleted accounts and system users,
and removed or deleted posts. Thresholds come from :class:`humanllm.filters.config.RedditRules`.

Rules, in the order a record is checked (the first that fails names the reject):

- ``reddit.deleted_author``: the author is ``[deleted]`` (the account was deleted).
- ``reddit.system_user``: the author is a system account (:data:`SYSTEM_USERS`: AutoModerator,
  the ``reddit`` admin account, RedditCareResources, ...).
- ``reddit.bot``: the author is a known bot (:data:`KNOWN_BOTS` plus ``extra_bots``, any case)
  or the name says so: ``bot`` as the whole name, after or before ``_``/``-`` ("gif_bot",
  "bot-9000", "tl_dr-bot_2"), or a CamelCase ``Bot`` suffix ("RemindMeBot"). A lowercase name
  merely ending in "bot" is *not* taken as a bot ("Talbot", "abbot", "cabot" are people), which
  is why the list exists.
- ``reddit.moderator``: the post is distinguished (``distinguished`` = moderator, admin, special).
- ``reddit.removed``: the body is ``[removed]``/``[deleted]`` or Reddit set ``removed_by_category``.
- ``reddit.min_score``, ``reddit.min_comments``: below the threshold, or missing.
- ``reddit.min_chars``: normalised ``text`` (title + body) shorter than ``min_chars``.

Author and numeric rules come first and the only text rule is last, so :func:`flag_typed` (the
fused path: rules on freshly parsed rows, before text normalisation) reaches the same verdicts
as :func:`flag` on ingested records while normalising only the rows that survive the cheap rules
and a raw-length bound.
"""

from __future__ import annotations

import polars as pl

from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig, RedditRules
from humanllm.sources._rt_parse import with_meta_fields
from humanllm.sources.reddit import RULE_FIELDS, to_records

SYSTEM_USERS = frozenset({"automoderator", "reddit", "redditcareresources", "modnewsletter", "reddit-admin"})
#: Well-known Reddit bots whose names the name rules do not catch (compared lowercased).
KNOWN_BOTS = frozenset(
    {
        "autowikibot", "totesmessenger", "tweetposter", "sneakpeekbot", "savevideo", "savevideobot",
        "stabbot", "stabbot_crop", "vredditdownloader", "vredditmirrorbot", "repostsleuthbot",
        "remindmebot", "wikitextbot", "wikisummarizerbot", "imguralbumbot", "gifreversingbot",
        "haikusbot", "nice-scores", "b0trank", "goodbot_badbot", "commonmisspellingbot",
        "timezone_bot", "converter-bot", "helperbot_", "linkfixerbot1", "mtgcardfetcher",
        "youtubefactsbot", "anti-gif-bot", "gifv-bot", "smilebot-2020", "auddbot", "same_post_bot",
        "uwutranslator", "image_linker_bot", "lyrics-matcher-bot", "thesunflowerseeds",
    }
)  # fmt: skip
_BOT_NAME = r"(?i:(?:^|[_-])bot(?:[_-]?[0-9]+)?$)|(?i:^bot[_-])|[a-z0-9]Bot(?:[_-]?[0-9]+)?$"


def is_bot(author: pl.Expr, extra: list[str]) -> pl.Expr:
    """The bot rule on an author column (known names, ``extra`` names, name patterns)."""
    names = sorted(KNOWN_BOTS | {n.lower() for n in extra})
    return author.str.to_lowercase().is_in(names) | author.str.contains(_BOT_NAME)


def cheap_checks(r: RedditRules) -> list[tuple[str, pl.Expr]]:
    """Author, status and numeric rules over ``user_id``, ``distinguished``, ``selftext_state``,
    ``removed_by_category``, ``score`` and ``num_comments``."""
    author = pl.col("user_id")
    lower = author.str.to_lowercase()
    return [
        ("reddit.deleted_author", author == "[deleted]"),
        ("reddit.system_user", lower.is_in(sorted(SYSTEM_USERS))),
        ("reddit.bot", lower.is_in(sorted(KNOWN_BOTS | {n.lower() for n in r.extra_bots})) | author.str.contains(_BOT_NAME)),
        ("reddit.moderator", pl.col("distinguished").fill_null("") != ""),
        (
            "reddit.removed",
            pl.col("selftext_state").is_in(["removed", "deleted"]).fill_null(False)
            | (pl.col("removed_by_category").fill_null("") != ""),
        ),
        ("reddit.min_score", pl.col("score").fill_null(r.min_score - 1) < r.min_score),
        ("reddit.min_comments", pl.col("num_comments").fill_null(r.min_comments - 1) < r.min_comments),
    ]


def _min_chars(r: RedditRules) -> tuple[str, pl.Expr]:
    return ("reddit.min_chars", pl.col("text").fill_null("").str.len_chars() < r.min_chars)


def flag(records: pl.LazyFrame, rules: FilterConfig, source: object = None) -> pl.LazyFrame:
    """The staged path: ingested records (rule fields read back from ``meta``) plus ``reason``."""
    r = rules.reddit
    lf = with_meta_fields(records, RULE_FIELDS)
    lf = lf.with_columns(first_reason([*cheap_checks(r), _min_chars(r)]))
    return lf.drop(list(RULE_FIELDS))


def flag_typed(typed: pl.DataFrame, rules: FilterConfig, source: str = "reddit") -> tuple[pl.DataFrame, pl.DataFrame]:
    """The fused path: parsed rows (``sources.reddit.typed_batches``) -> ``(kept records,
    rejects)``, the same verdicts as :func:`flag` on ``to_records(typed)``.

    Cheap rules run on the typed columns; a raw-length bound (normalising never lengthens a
    text, so raw bytes + separator bound its length) drops short rows without normalising
    them; only the survivors are normalised, encoded and length-checked exactly.
    """
    r = rules.reddit
    body_bytes = pl.when(pl.col("selftext_state") == "text").then(pl.col("selftext").str.len_bytes() + 1)
    bound = pl.col("title").str.len_bytes().fill_null(0) + body_bytes.fill_null(0)
    cheap = first_reason([*cheap_checks(r), ("reddit.min_chars", bound < r.min_chars)])
    verdict = typed.select("record_id", cheap).with_columns(pl.lit(None, dtype=pl.String).alias("detail"))
    dropped = verdict["reason"].is_not_null()
    records = to_records(typed.filter(~dropped), source).with_columns(first_reason([_min_chars(r)]))
    short = records["reason"].is_not_null()
    rejects = pl.concat(
        [verdict.filter(dropped), records.filter(short).select("record_id", "reason", pl.lit(None, pl.String).alias("detail"))]
    )
    return records.filter(~short).drop("reason"), rejects
