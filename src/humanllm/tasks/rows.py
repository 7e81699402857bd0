"""What every task builder shares: options, the ShareGPT row, seeded randomness, record helpers."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from humanllm.records import SOURCES
from humanllm.sources.kind import platform_of
from humanllm.tasks.config import TasksConfig
from humanllm.tasks.prompts import Prompt

Row = dict[str, Any]


@dataclass(frozen=True)
class BuildOptions:
    """The knobs of the builders (from :class:`TasksConfig`) and each source's kind."""

    seed: int = 42
    kinds: Mapping[str, str] = field(default_factory=dict)
    history_records: int = 3
    history_chars: int = 1000
    history_items: int = 10
    n_candidates: int = 20

    @classmethod
    def from_config(cls, cfg: TasksConfig, kinds: Mapping[str, str]) -> BuildOptions:
        return cls(
            seed=cfg.seed,
            kinds=dict(kinds),
            history_records=cfg.history_records,
            history_chars=cfg.history_chars,
            history_items=cfg.history_items,
            n_candidates=cfg.n_candidates,
        )

    def kind(self, source: str) -> str:
        """The reader kind of a source (a source named like a kind is that kind; else jsonl)."""
        return self.kinds.get(source) or (source if source in SOURCES else "jsonl")

    def text_kind(self, source: str) -> str:
        """What a record of the source is called in prompts: "Reddit post", "tweet", ..."""
        return platform_of(self.kind(source))


@dataclass
class Built:
    """A builder's output: rows, and how many inputs it could not use, by reason."""

    rows: list[Row] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        prompt: Prompt,
        reply: str,
        *,
        task: str,
        user: tuple[str, str],
        ref: str,
        **extra: Any,
    ) -> None:
        """Add the :func:`sharegpt` row of ``prompt`` -> ``reply`` for ``user`` (its ``source``
        and ``user_id``, e.g. :func:`user_of` a genome row)."""
        source, user_id = user
        self.rows.append(
            sharegpt(prompt, reply, task=task, source=source, user_id=user_id, ref=ref, **extra)
        )


def user_of(row: Mapping[str, Any]) -> tuple[str, str]:
    """The ``(source, user_id)`` of a genome row."""
    return row["source"], row["user_id"]


def sharegpt(
    prompt: Prompt, reply: str, *, task: str, source: str, user_id: str, ref: str, **extra: Any
) -> Row:
    """One single-turn ShareGPT row. ``ref`` names the genome row it came from (record, QA pair or
    user id); ``task``, ``source``, ``user_id``, ``ref`` and ``extra`` are ignored by trainers."""
    return {
        "system": prompt.system,
        "conversations": [
            {"from": "human", "value": prompt.human},
            {"from": "gpt", "value": reply.strip()},
        ],
        "task": task,
        "source": source,
        "user_id": user_id,
        "ref": ref,
        **extra,
    }


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def cut(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters at a word boundary, with an ellipsis when cut."""
    value = value.strip()
    if len(value) <= limit:
        return value
    head = value[: limit - 3]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip() + "..."


def meta_of(row: Mapping[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(row.get("meta") or "{}")
    except (TypeError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def full_text(row: Mapping[str, Any]) -> str:
    """A record as its author wrote it: the title (if any) on its own line, then the text."""
    title, body = text(row.get("title")), text(row.get("text"))
    if title and not body.startswith(title):
        return f"{title}\n\n{body}".strip()
    return body


def user_histories(records: pl.DataFrame) -> Iterator[tuple[str, str, list[Row]]]:
    """``(source, user_id, rows oldest first)`` per user; ``records`` is sorted by the loader."""
    users: dict[tuple[str, str], list[Row]] = {}  # in order of first appearance, as group_by
    for r in records.to_dicts():
        users.setdefault((r["source"], r["user_id"]), []).append(r)
    for (source, user_id), rows in users.items():
        yield str(source), str(user_id), rows


def portraits(users: pl.DataFrame) -> dict[tuple[str, str], Row]:
    return {(r["source"], r["user_id"]): r for r in users.to_dicts()}


def persona_or_profile(user: Row, rng: random.Random) -> dict[str, str] | None:
    """The paper's "persona or profile": one of the two at random (the one there is, if only one)."""
    have = [k for k in ("persona", "profile") if text(user.get(k))]
    if not have:
        return None
    pick = rng.choice(have) if len(have) > 1 else have[0]
    return {pick: text(user[pick])}


def first_sentence(value: str, limit: int = 200) -> str:
    """The first sentence of ``value`` (up to ``limit`` characters)."""
    value = " ".join(value.split())
    for i, ch in enumerate(value):
        if ch in ".!?" and (i + 1 == len(value) or value[i + 1] == " ") and i >= 20:
            return cut(value[: i + 1], limit)
    return cut(value, limit)


def item_index(items: pl.DataFrame) -> dict[tuple[str, str], Row]:
    """The genome's items by ``(source, item_id)``."""
    return {(r["source"], r["item_id"]): r for r in items.to_dicts()}


def item_title(r: Row, items: dict[tuple[str, str], Row]) -> tuple[str, Row | None]:
    """An Amazon record's item title (the items table's, else the one in its meta) and item."""
    meta = meta_of(r)
    item = items.get((r["source"], str(meta.get("parent_asin") or "")))
    return (text(item["title"]) if item else "") or text(meta.get("item_title")), item


def rating_of(r: Row) -> float | None:
    """An Amazon record's stars, when its meta has them."""
    value = meta_of(r).get("rating")
    return float(value) if isinstance(value, int | float) else None
