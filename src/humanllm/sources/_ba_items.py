"""Amazon Reviews 2023 item metadata (``meta_{Category}.jsonl[.gz]``) -> the ``items`` table, and
the compact ``parent_asin -> title`` lookup the review reader joins on (private to ``amazon``).

Item columns (:data:`~humanllm.records.ITEM_SCHEMA`): ``item_id`` = parent_asin (required),
``title``, ``main_category``, ``categories`` (JSON list), ``description`` and ``features`` (list
items joined by newlines), ``price`` (a number, or the first number in a string such as
"$12.99"; null for null, "None" or anything without a number), ``store``; ``meta`` (JSON) holds
every other input field (details, average_rating, rating_number, bought_together, ...) plus
``n_images``, ``n_videos`` (the image/video lists themselves are left out) and ``price_raw``
when the price was a string. A line without a string parent_asin, or whose title is not a
string, is a reject; other fields of unexpected type are kept as JSON text.

Memory: :class:`TitleLookup` keeps only parent_asin and title, as two sorted Arrow string
columns (about len(asin) + len(title) + 16 bytes per item: roughly 1 GB for the largest 2023
category, 7.2M items with ~120-character titles), and looks a batch of reviews up with a binary
search (``search_sorted``), so no per-batch hash join over the whole table is built.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from humanllm.records import ITEM_SCHEMA, normalize_text
from humanllm.sources._ba_io import FieldError, want_str

_COLUMNS = (
    "parent_asin",
    "title",
    "main_category",
    "categories",
    "description",
    "features",
    "price",
    "store",
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return normalize_text(value) or None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(t for v in value if (t := normalize_text(v))) or None
    return json.dumps(value, ensure_ascii=False)


def parse_price(value: Any) -> tuple[float | None, str | None]:
    """``(price, raw string or None)``: numbers pass, "$1,299.00" -> 1299.0, "None"/"" -> null."""
    if isinstance(value, bool) or value is None:
        return None, None
    if isinstance(value, int | float):
        return float(value), None
    raw = str(value)
    m = _NUMBER.search(raw)
    return (float(m.group().replace(",", "")) if m else None), raw


def parse_item(obj: dict[str, Any]) -> dict[str, Any]:
    """One metadata line -> one ``items`` row (raises :class:`FieldError`)."""
    item_id = want_str(obj, "parent_asin", required=True, ids=True)
    title = want_str(obj, "title", required=False)
    price, price_raw = parse_price(obj.get("price"))
    cats = obj.get("categories")
    extra = {k: v for k, v in obj.items() if k not in _COLUMNS and k not in ("images", "videos")}
    extra["n_images"] = len(obj["images"]) if isinstance(obj.get("images"), list) else 0
    extra["n_videos"] = len(obj["videos"]) if isinstance(obj.get("videos"), list) else 0
    if price_raw is not None:
        extra["price_raw"] = price_raw
    main = obj.get("main_category")
    store = obj.get("store")
    return {
        "item_id": item_id,
        "title": normalize_text(title) if title else None,
        "main_category": main if isinstance(main, str) or main is None else json.dumps(main),
        "categories": json.dumps(
            cats if isinstance(cats, list) else ([] if cats is None else [cats]), ensure_ascii=False
        ),
        "description": _text(obj.get("description")),
        "features": _text(obj.get("features")),
        "price": price,
        "store": store if isinstance(store, str) or store is None else json.dumps(store),
        "meta": json.dumps(extra, ensure_ascii=False),
    }


class ItemBuffer:
    """Item rows gathered until the next chunk is handed out."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def take(self) -> pl.DataFrame | None:
        if not self.rows:
            return None
        schema = {k: v for k, v in ITEM_SCHEMA.items() if k != "source"}
        df = pl.DataFrame(self.rows, schema=schema).with_columns(
            pl.lit(self.source).alias("source")
        )
        self.rows = []
        return df.select(list(ITEM_SCHEMA))


class TitleLookup:
    """parent_asin -> item title over sorted Arrow columns (see the module docstring for memory)."""

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []
        self._table: pl.DataFrame | None = None

    def extend(self, items: pl.DataFrame) -> None:
        self._parts.append(items.select("item_id", "title"))

    def freeze(self) -> None:
        parts = [p for p in self._parts if p.height]
        self._parts = []
        if parts:  # the last metadata line of an item wins
            table = pl.concat(parts).unique("item_id", keep="last", maintain_order=True)
            self._table = table.sort("item_id")

    def __len__(self) -> int:
        return 0 if self._table is None else self._table.height

    def titles(self, keys: list[str]) -> list[str | None]:
        """Titles for ``keys`` (None where the item has no metadata or no title)."""
        table = self._table
        if table is None or not keys:
            return [None] * len(keys)
        wanted = pl.Series(keys, dtype=pl.String)
        ids = table["item_id"]
        pos = ids.search_sorted(wanted).clip(0, table.height - 1)
        hit = ids.gather(pos) == wanted
        out = pl.select(pl.when(hit).then(table["title"].gather(pos))).to_series()
        return out.to_list()


__all__ = ["FieldError", "ItemBuffer", "TitleLookup", "parse_item", "parse_price"]
