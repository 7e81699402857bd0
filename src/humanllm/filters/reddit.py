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
pass and reaches the same verdicts faster: every rule that needs no normalisation runs inside
the Parquet scan, and only the rows it keeps are parsed, normalised and encoded (see
``benchmarks/filters.py``).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

import polars as pl

from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig, RedditRules
from humanllm.sources import expand_paths, reddit
from humanllm.sources._rt_io import PATTERNS, batches, is_parquet, parquet_scan
from humanllm.sources._rt_parse import as_text, with_meta_fields
from humanllm.sources.config import RedditSource
from humanllm.sources.reddit import RULE_FIELDS, to_records

T = TypeVar("T")
R = TypeVar("R")
_NO_DETAIL = pl.lit(None, dtype=pl.String).alias("detail")
_NO_REJECTS = pl.DataFrame(
    schema={"record_id": pl.String, "reason": pl.String, "detail": pl.String}
)

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
    lf = with_meta_fields(records, RULE_FIELDS)
    lf = lf.with_columns(first_reason([*cheap_checks(r), *text_checks(r)]))
    return lf.drop(list(RULE_FIELDS))


def flag_typed(
    typed: pl.DataFrame, rules: FilterConfig, source: str = "reddit", *, early_done: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parsed rows (``sources.reddit.typed_batches``) -> ``(kept records, rejects)``: the same
    verdicts as :func:`flag` on ``to_records(typed)``, normalising only the rows that
    :func:`early_checks` keep. ``early_done``: every row already passed them (in the scan)."""
    r = rules.reddit
    early = _NO_REJECTS
    if not early_done:
        verdict = typed.select("record_id", first_reason(early_checks(r)), _NO_DETAIL)
        dropped = verdict["reason"].is_not_null()
        early, typed = verdict.filter(dropped), typed.filter(~dropped)
    records = to_records(typed, source).with_columns(first_reason(text_checks(r)[1:]))
    short = records["reason"].is_not_null()
    late = records.filter(short).select("record_id", "reason", _NO_DETAIL)
    return records.filter(~short).drop("reason"), pl.concat([early, late])


def read_filtered(
    cfg: RedditSource, rules: FilterConfig
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """The fused path (reader and rules in one pass): ``(kept records, rejects)`` per batch,
    the same verdicts as ingest followed by :func:`flag`, rejects included.

    For Parquet the rules of :func:`early_checks` run inside the scan, on the raw columns: a row
    they drop that surely parses gets its reject there, its title and body never parsed or
    normalised; only the rows they keep (and the rare ones that might not parse, which take the
    reader's parser and every rule) are parsed, normalised and measured.
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
        fields = {**reddit.rule_inputs(schema), **reddit.text_inputs(schema)}
        checks = early_checks(r, fields)
        code: pl.Expr = pl.lit(None, dtype=pl.UInt8)  # index of the first rule that drops
        for i, (_, cond) in reversed(list(enumerate(checks))):
            code = pl.when(cond).then(pl.lit(i, dtype=pl.UInt8)).otherwise(code)
        lf = lf.with_columns(code.alias("_code"), reddit.parse_suspect(schema).alias("_suspect"))
        record_id = as_text(pl.col("id"), schema["id"]).alias("record_id")
        finish = partial(
            _finish_batch,
            path=path,
            record_id=record_id,
            reasons=pl.Series("reason", [name for name, _ in checks]),
            rules=rules,
            source=cfg.source_name,
        )
        yield from map_ordered(finish, batches(lf, path, cfg.batch_size), WORKERS)


def _finish_batch(
    raw: pl.DataFrame,
    *,
    path: Path,
    record_id: pl.Expr,
    reasons: pl.Series,
    rules: FilterConfig,
    source: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One scanned batch (with ``_code``, the index in ``reasons`` of the first early rule that
    drops the row, and ``_suspect``) -> ``(kept records, rejects)``."""
    settled = raw["_code"].is_not_null() & ~raw["_suspect"]
    early = raw.filter(settled)
    early = early.select(record_id, reasons.gather(early["_code"]), _NO_DETAIL)
    rest = raw.filter(~settled)
    typed, bad = reddit.parse_batch(rest.drop("_code", "_suspect"), path, "row ")
    exact = bool(rest["_suspect"].any())  # those rows still need every rule
    kept, rejects = flag_typed(typed, rules, source, early_done=not exact)
    return kept, pl.concat([bad, early, rejects])


#: Batches finished at once by the fused path. Polars releases the GIL and runs each string
#: kernel of an eager call on one thread, so two batches in flight keep two cores busy.
WORKERS = 2


def map_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, in order, at most ``workers`` items ahead of
    the consumer (so memory stays that of a few batches)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
