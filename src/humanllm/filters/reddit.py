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
ingested records (the stage ``filter``). :func:`read_filtered` hands them to the fused reader
(:mod:`humanllm.sources.reddit_scan`), which reaches the same verdicts faster: every rule that
needs no normalisation runs inside the Parquet scan, and only the rows it keeps are parsed,
normalised and encoded (see ``benchmarks/filters.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import partial

import polars as pl

from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig, RedditRules
from humanllm.sources.config import RedditSource
from humanllm.sources.reddit import RULE_FIELDS, with_rule_fields
from humanllm.sources.reddit_scan import Pushdown, read_pushdown

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


def _any_name(names: Iterable[str]) -> str:
    """A regex matching exactly one of ``names``, in any case (the names are plain ASCII
    user names; anything a regex would read specially is escaped)."""
    alternatives = "|".join(re.sub(r"([^0-9A-Za-z_])", r"\\\1", n) for n in sorted(names))
    return f"(?i:^(?:{alternatives})$)"


def is_bot(author: pl.Expr, extra: list[str]) -> pl.Expr:
    """The bot rule on an author column (known names, ``extra`` names, name patterns), one
    regex pass over the column."""
    return author.str.contains(f"{_any_name(KNOWN_BOTS | set(extra))}|{_BOT_NAME}")


def cheap_checks(
    r: RedditRules, f: Mapping[str, pl.Expr] | None = None
) -> list[tuple[str, pl.Expr]]:
    """Author and numeric rules over the fields ``user_id``, ``distinguished``, ``score`` and
    ``num_comments`` (columns of those names unless ``f`` gives other expressions). Every
    condition is a non-null boolean. Names are compared in any case by anchored regexes (one
    pass each; cheaper than lowercasing the column first)."""
    names = ("user_id", "distinguished", "score", "num_comments")
    f = {**{k: pl.col(k) for k in names}, **(f or {})}
    author = f["user_id"].fill_null("")
    return [
        ("reddit.deleted_author", author == "[deleted]"),
        ("reddit.system_user", author.str.contains(_any_name(SYSTEM_USERS))),
        ("reddit.bot", is_bot(author, r.extra_bots)),
        ("reddit.moderator", f["distinguished"].is_not_null() & (f["distinguished"] != "")),
        ("reddit.min_score", f["score"].fill_null(r.min_score - 1) < r.min_score),
        ("reddit.min_comments", f["num_comments"].fill_null(r.min_comments - 1) < r.min_comments),
    ]


def text_checks(
    r: RedditRules, f: Mapping[str, pl.Expr] | None = None
) -> list[tuple[str, pl.Expr]]:
    """The rules on the post itself: removed/deleted, then the normalised length (the field
    ``text``, or the columns ``selftext_state``, ``removed_by_category``, ``text``)."""
    f = f or {k: pl.col(k) for k in ("selftext_state", "removed_by_category", "text")}
    return [
        _removed(f),
        ("reddit.min_chars", f["text"].fill_null("").str.len_chars() < r.min_chars),
    ]


def _removed(f: Mapping[str, pl.Expr]) -> tuple[str, pl.Expr]:
    gone = f["selftext_state"].is_in(["removed", "deleted"]).fill_null(False)
    return "reddit.removed", gone | (f["removed_by_category"].fill_null("") != "")


def early_checks(
    r: RedditRules, f: Mapping[str, pl.Expr] | None = None
) -> list[tuple[str, pl.Expr]]:
    """Every rule that can be decided before normalisation, in rule order: the cheap rules,
    the removed rule, and the length rule on a bound (normalising never lengthens a text, so
    the raw bytes of title and body plus the separator bound its length): a row this drops,
    :func:`flag` drops for the same reason; a row it keeps may still be too short. Fields as
    in :func:`cheap_checks` plus ``title``, ``selftext``, ``selftext_state`` and
    ``removed_by_category`` (parsed, not normalised)."""
    names = ("title", "selftext", "selftext_state", "removed_by_category")
    f = {**{k: pl.col(k) for k in names}, **(f or {})}
    body_bytes = pl.when(f["selftext_state"] == "text").then(f["selftext"].str.len_bytes() + 1)
    bound = f["title"].str.len_bytes().fill_null(0) + body_bytes.fill_null(0)
    return [
        *cheap_checks(r, f),
        _removed(f),
        ("reddit.min_chars", bound < r.min_chars),
    ]


def flag(records: pl.LazyFrame, rules: FilterConfig, source: object = None) -> pl.LazyFrame:
    """The staged path: ingested records (rule fields read back from ``meta``) plus ``reason``."""
    r = rules.reddit
    lf = with_rule_fields(records)
    lf = lf.with_columns(first_reason([*cheap_checks(r), *text_checks(r)]))
    return lf.drop(list(RULE_FIELDS))


def pushdown(r: RedditRules) -> Pushdown:
    """The rules as the fused reader takes them: :func:`early_checks` in the scan, the length
    rule on the normalised text after it."""
    return Pushdown(early=partial(early_checks, r), late=text_checks(r)[1:])


def read_filtered(
    cfg: RedditSource, rules: FilterConfig
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """The fused path (reader and rules in one pass): ``(kept records, rejects)`` per batch,
    the same verdicts as ingest followed by :func:`flag`, rejects included (the reader is
    :func:`humanllm.sources.reddit_scan.read_pushdown`)."""
    return read_pushdown(cfg, pushdown(rules.reddit))
