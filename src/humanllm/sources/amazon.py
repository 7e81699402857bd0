"""Reader for Amazon Reviews 2023: ``{Category}.jsonl[.gz|.zst]`` reviews -> records, and
``meta_{Category}.jsonl[.gz|.zst]`` item metadata -> the ``items`` table (see ``_ba_items``).

``path`` is a review file, a folder or a glob; files named ``meta_*`` found there are read as
item metadata, never as reviews. Item metadata comes from ``meta_path`` when set (all of it is
joined to every review file), else from the ``meta_<Category>`` file(s) next to each review file.
The reader goes category by category: it reads the category's metadata first (yielding the
``items`` rows and keeping a parent_asin -> title lookup), then streams its reviews, so memory
holds one category's lookup at a time (see ``_ba_items.TitleLookup`` for the cost).

Records: ``record_id`` = ``<user_id>-<parent_asin>-<timestamp>`` (stable; a repeated review
line gives a repeated id, which the filter stage drops as ``all.duplicate_record_id``),
``user_id``, ``created_at`` from ``timestamp`` in milliseconds, ``title`` = review title,
``text`` = review text. When ``parent_asin`` is missing the ``asin`` stands in for it.

``meta`` keys: parent_asin, asin, rating, item_title (the item's metadata title; null when the
item has no metadata), helpful_vote, verified_purchase, n_images, category (from the file
name); bad_utf8 (true, only present when the line was not valid UTF-8 and was decoded with
U+FFFD replacement).

Rejects (record_id ``<file>:<line>``): ``parse.bad_json`` / ``parse.not_object`` for a line that
is not a JSON object; ``parse.missing_field`` (user_id, parent_asin/asin, timestamp, text) and
``parse.bad_type`` (e.g. timestamp "1588687728923", rating "five") naming the field;
``parse.bad_value`` for a timestamp out of range; ``parse.truncated_file`` /
``parse.corrupt_file`` / ``parse.unreadable_file`` (record_id ``<file>:end``) when a file cannot
be read to its end (the lines before it are kept). An empty file yields nothing (a log notice).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from humanllm.filters.config import AmazonRules
from humanllm.sources import Chunk, SourceError, expand_paths
from humanllm.sources._ba_io import (
    JSONL_PATTERNS,
    Batch,
    FieldError,
    epoch_micros,
    read_objects,
    want_bool,
    want_number,
    want_str,
)
from humanllm.sources._ba_items import ItemBuffer, TitleLookup, parse_item
from humanllm.sources.config import AmazonSource
from humanllm.sources.kind import source_kind


def category_of(path: Path) -> str:
    name = path.name
    for ext in (".jsonl.gz", ".jsonl.zst", ".jsonl"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return name.removeprefix("meta_")


def _is_meta(path: Path) -> bool:
    return path.name.startswith("meta_")


def plan(cfg: Any) -> list[tuple[list[Path], list[Path]]]:
    """Groups of ``(metadata files, review files)`` in reading order."""
    found = expand_paths(cfg.path, JSONL_PATTERNS)
    reviews = [p for p in found if not _is_meta(p)]
    if not reviews:
        raise SourceError(
            f"{cfg.path}: only item metadata files (meta_*) found; point 'path' at the review files"
        )
    if cfg.meta_path:
        metas = expand_paths(cfg.meta_path, tuple(f"meta_{p}" for p in JSONL_PATTERNS))
        return [(metas, reviews)]
    loose = {p for p in found if _is_meta(p)}
    groups: dict[tuple[Path, str], tuple[list[Path], list[Path]]] = {}
    for review in reviews:
        key = (review.parent, category_of(review))
        group = groups.setdefault(key, ([], []))
        group[1].append(review)
        for pat in JSONL_PATTERNS:
            for meta in sorted(review.parent.glob(f"meta_{key[1]}{pat[1:]}")):
                if meta not in group[0]:
                    group[0].append(meta)
                loose.discard(meta)
    plan_ = list(groups.values())
    plan_ += [([m], []) for m in sorted(loose)]  # metadata in the input without reviews: items only
    return plan_


def parse_review(obj: dict[str, Any]) -> tuple[str, str, int, str, str | None, dict[str, Any]]:
    """One review line -> (user_id, item_id, micros, text, title, meta without item_title)."""
    user = want_str(obj, "user_id", required=True, ids=True)
    parent = want_str(obj, "parent_asin", required=False, ids=True)
    asin = want_str(obj, "asin", required=False, ids=True)
    item = parent or asin
    if not item:
        raise FieldError(
            "parse.missing_field", "required field 'parent_asin' (or 'asin') is missing or null"
        )
    stamp = want_number(obj, "timestamp", required=True)
    text = want_str(obj, "text", required=True)
    title = want_str(obj, "title", required=False)
    images = obj.get("images")
    if images is not None and not isinstance(images, list):
        raise FieldError(
            "parse.bad_type", f"field 'images' must be a list, got {type(images).__name__}"
        )
    meta = {
        "parent_asin": item,
        "asin": asin,
        "rating": want_number(obj, "rating", required=False),
        "item_title": None,
        "helpful_vote": want_number(obj, "helpful_vote", required=False, integer=True),
        "verified_purchase": want_bool(obj, "verified_purchase"),
        "n_images": len(images or []),
    }
    assert user is not None and stamp is not None and text is not None
    return user, item, epoch_micros(stamp, "ms", "timestamp"), text, title, meta


class _Reader:
    def __init__(self, cfg: Any) -> None:
        self.batch = Batch(cfg.source_name, cfg.batch_size)
        self.items = ItemBuffer(cfg.source_name)
        self.pending: list[tuple[str, str, int, str, str | None, dict[str, Any]]] = []
        self.titles = TitleLookup()

    def flush(self) -> Chunk:
        """Join the pending reviews to their item titles; hand out records, rejects and items."""
        keys = [row[5]["parent_asin"] for row in self.pending]
        for row, title in zip(self.pending, self.titles.titles(keys), strict=True):
            user, item, micros, text, rtitle, meta = row
            meta["item_title"] = title
            self.batch.add(f"{user}-{item}-{micros // 1000}", user, micros, text, rtitle, meta)
        self.pending = []
        items = self.items.take()
        if items is not None:
            self.titles.extend(items)
        return self.batch.take(items=items)

    def full(self) -> bool:
        return (
            len(self.pending) + len(self.items) + len(self.batch.rej["record_id"])
            >= self.batch.size
        )

    def _lines(self, path: Path) -> Iterator[tuple[int, dict[str, Any] | None, bool]]:
        """(line, object or None, bad_utf8) per line; bad lines and a cut-off stream become rejects."""
        for parsed in read_objects(path, self.batch):
            yield parsed.line, parsed.obj, parsed.bad_utf8

    def read_meta(self, path: Path) -> Iterator[Chunk]:
        for line, obj, _ in self._lines(path):
            if obj is not None:
                try:
                    self.items.add(parse_item(obj))
                except FieldError as e:
                    self.batch.reject_field(path, line, e)
            if self.full():
                yield self.flush()
        yield self.flush()  # every item of the file is in the title lookup before reviews start

    def read_reviews(self, path: Path) -> Iterator[Chunk]:
        category = category_of(path)
        for line, obj, bad_utf8 in self._lines(path):
            if obj is not None:
                try:
                    user, item, micros, text, title, meta = parse_review(obj)
                except FieldError as e:
                    self.batch.reject_field(path, line, e)
                else:
                    meta["category"] = category
                    if bad_utf8:
                        meta["bad_utf8"] = True
                    self.pending.append((user, item, micros, text, title, meta))
            if self.full():
                yield self.flush()


@source_kind(
    AmazonSource,
    platform="Amazon product review",
    rules="humanllm.filters.amazon:row_flag",
    rules_config=AmazonRules,
    narrative=False,
    path_fields=("path", "meta_path"),
    item_kcore=True,
)
def read(cfg: Any) -> Iterator[Chunk]:
    """Stream items, then reviews, category by category (see the module docstring)."""
    reader = _Reader(cfg)
    for metas, reviews in plan(cfg):
        reader.titles = TitleLookup()
        for meta in metas:
            yield from _nonempty(reader.read_meta(meta))
        reader.titles.freeze()
        for review in reviews:
            yield from reader.read_reviews(review)
        yield from _nonempty(iter([reader.flush()]))  # before the next category's lookup


def _nonempty(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    for chunk in chunks:
        if chunk.records.height or chunk.rejects is not None or chunk.items is not None:
            yield chunk
