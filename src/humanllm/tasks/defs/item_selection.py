"""Item selection (§3.1, T2), Amazon only: a reviewed item counts as bought.

For each of a user's reviews after the first: persona or profile + up to ``history_items``
earlier purchases (title, stars) + ``n_candidates`` candidates (the true item at a random position
and random items of the same source's item pool that the user never reviewed, no two with the same
title) -> ``"C. <title>"``. The candidates' item ids, in the order shown, are kept in
``candidates``.

In-domain, 20-way (its own questions): the true item and 19 items drawn at random from the same
source's item pool (genome ``items``), none of them an item the user reviewed (``records``) or
titled like one; the candidate block of the task prompt is rewritten with these candidates in a
seeded random order. The prompt asks for the letter itself, so it is asked as it is. Simulator:
``humanllm simulate select`` (a reply must name one of the candidates).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from pydantic import Field, field_validator

from humanllm.evaluation.indomain import turns
from humanllm.evaluation.letters import LETTERS
from humanllm.evaluation.mc import REAL, MCQuestion
from humanllm.seeds import rng_for
from humanllm.simulate.apps import SimApp
from humanllm.simulate.people import History, Person, about, purchases
from humanllm.simulate.schemas import ITEMS, SHORT, About, Flag, Review, plain_reviews
from humanllm.tasks import prompts as P
from humanllm.tasks.inputs import Genome
from humanllm.tasks.prompts import item_choice
from humanllm.tasks.rows import (
    BuildOptions,
    Built,
    item_index,
    item_title,
    meta_of,
    persona_or_profile,
    portraits,
    rating_of,
    text,
    user_histories,
)
from humanllm.tasks.task import QuestionContext, task
from humanllm.text import fold

NAME = "item_selection"
_LABELLED = re.compile(r"^([A-Z])\.\s+(.*\S)\s*$")


# --- the training rows --------------------------------------------------------------------------


def draw_negatives(
    pool: list[tuple[str, str]],
    exclude_ids: set[str],
    exclude_titles: set[str],
    k: int,
    rng: random.Random,
) -> list[tuple[str, str]]:
    """Up to ``k`` distinct ``(item_id, title)`` of ``pool``, none excluded, no two titles alike."""
    out: list[tuple[str, str]] = []
    seen = set(exclude_titles)

    def take(item: tuple[str, str]) -> None:
        if item[0] not in exclude_ids and fold(item[1]) not in seen:
            seen.add(fold(item[1]))
            out.append(item)

    if len(pool) > 8 * (k + len(exclude_ids)):  # large pool: rejection sampling, O(k)
        for _ in range(20 * k):
            take(pool[rng.randrange(len(pool))])
            if len(out) == k:
                return out
    out.clear()
    seen = set(exclude_titles)
    for item in rng.sample(pool, len(pool)):
        take(item)
        if len(out) == k:
            break
    return out


# --- the in-domain questions -------------------------------------------------------------------


@dataclass
class ItemPool:
    """Titled items per source, and what each user reviewed (ids and normalised titles)."""

    items: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    owned: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    owned_titles: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    @classmethod
    def from_genome(cls, genome: Path) -> ItemPool:
        pool = cls()
        items_path, records_path = genome / "items.parquet", genome / "records.parquet"
        titles: dict[tuple[str, str], str] = {}
        if items_path.is_file():
            df = pl.read_parquet(items_path)
            if "source" not in df.columns:
                df = df.with_columns(pl.lit("amazon").alias("source"))
            for r in df.select("source", "item_id", "title").sort("source", "item_id").iter_rows():
                source, item_id, title = (str(r[0]), str(r[1]), (r[2] or "").strip())
                if title:
                    pool.items.setdefault(source, []).append((item_id, title))
                    titles[(source, item_id)] = title
        if records_path.is_file():
            rec = pl.read_parquet(records_path, columns=["source", "user_id", "meta"])
            for source, user_id, meta in rec.iter_rows():
                try:
                    asin = str((json.loads(meta or "{}") or {}).get("parent_asin") or "")
                except (json.JSONDecodeError, AttributeError):
                    asin = ""
                if asin:
                    key = (str(source), str(user_id))
                    pool.owned.setdefault(key, set()).add(asin)
                    title = titles.get((str(source), asin))
                    if title:
                        pool.owned_titles.setdefault(key, set()).add(fold(title))
        return pool


def candidate_block(lines: Sequence[str], n: int | None) -> tuple[int, int] | None:
    """``(start, length)`` of the one run of lines labelled ``A. ``, ``B. ``, ... in the prompt."""
    runs = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("A. "):
            k = 1
            while (
                i + k < len(lines)
                and k < len(LETTERS)
                and lines[i + k].startswith(f"{LETTERS[k]}. ")
            ):
                k += 1
            if k >= 2 and (n is None or k == n):
                runs.append((i, k))
            i += k
        else:
            i += 1
    return runs[0] if len(runs) == 1 else None


def item_question(
    row: dict[str, Any], qid: str, pool: ItemPool, n_options: int, seed: int
) -> MCQuestion | str:
    """The 20-way question of one item-selection row, or why the row cannot be one."""
    system, human, gpt = turns(row)
    m = _LABELLED.match(gpt.strip())
    if not m:
        return "answer is not '<letter>. <title>'"
    true_title = m.group(2)
    source, user = str(row.get("source", "")), str(row.get("user_id", ""))
    shown = row.get("candidates")
    lines = human.splitlines()
    block = candidate_block(lines, len(shown) if isinstance(shown, list) else None)
    if block is None:
        return "prompt has no single labelled candidate block"
    true_id = ""
    pick = LETTERS.index(m.group(1))
    if isinstance(shown, list) and pick < len(shown):
        true_id = str(shown[pick])
    owned = pool.owned.get((source, user), set()) | {true_id}
    banned = pool.owned_titles.get((source, user), set()) | {fold(true_title)}
    eligible = []
    for item_id, title in pool.items.get(source, []):
        if item_id not in owned and fold(title) not in banned:
            banned.add(fold(title))  # no two candidates titled alike
            eligible.append((item_id, title))
    rng = rng_for(seed, NAME, qid)
    negatives = rng.sample(eligible, min(n_options - 1, len(eligible)))
    if not negatives:
        return "item pool has no other item"
    options = [(true_id, true_title, REAL), *[(i, t, "pool") for i, t in negatives]]
    rng.shuffle(options)
    answer = next(k for k, o in enumerate(options) if o[2] == REAL)
    start, length = block
    new_block = [item_choice(k, title) for k, (_, title, _) in enumerate(options)]
    prompt = "\n".join([*lines[:start], *new_block, *lines[start + length :]])
    return MCQuestion(
        id=qid,
        task=NAME,
        source=source,
        user_id=user,
        ref=str(row.get("ref", "")),
        system=system,
        prompt=prompt,
        options=[title for _, title, _ in options],
        continuations=new_block,
        answer=answer,
        origins=[origin if origin == REAL else f"pool:{i}" for i, _, origin in options],
        native=True,
    )


def questions(
    rows: Sequence[dict[str, Any]], ids: Sequence[str], ctx: QuestionContext
) -> list[MCQuestion | str]:
    """The 20-way questions of the sampled test rows (or why a row cannot be one)."""
    pool = ItemPool.from_genome(ctx.genome_dir)
    return [
        item_question(row, qid, pool, ctx.config.item_options, ctx.seed)
        for qid, row in zip(ids, rows, strict=True)
    ]


# --- the simulator application ------------------------------------------------------------------


def _purchase(value: str) -> dict[str, Any]:
    """'TITLE | STARS' -> {item, rating}; anything else is a title."""
    title, sep, stars = value.rpartition("|")
    if sep and title.strip():
        try:
            return {"item": title.strip(), "rating": float(stars)}
        except ValueError:
            pass
    return {"item": value.strip()}


class SelectInput(About):
    """Item selection: purchase history + persona or profile + candidates -> the chosen one."""

    candidates: Annotated[
        list[str], Flag(name="--candidate", short="-c", help="A candidate item title (repeatable).")
    ] = Field(min_length=2, max_length=26, description="Candidate item titles (2 to 26).")
    history: Annotated[
        list[Review],
        Flag(
            name="--bought",
            help="An item bought before, 'TITLE' or 'TITLE | STARS' (repeatable).",
            parse=_purchase,
        ),
    ] = Field(
        default_factory=list,
        max_length=ITEMS,
        description="Items bought before, oldest first (a plain string is an item title).",
    )

    @field_validator("history", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return plain_reviews(value, "item")

    @field_validator("candidates")
    @classmethod
    def _titles(cls, value: list[str]) -> list[str]:
        if any(not c.strip() or len(c) > SHORT for c in value):
            raise ValueError(f"each candidate must be a title of 1 to {SHORT} characters")
        return value


def prompt(inp: SelectInput) -> P.Prompt:
    """Item selection: history + persona or profile + candidates -> the chosen item (always a
    candidate)."""
    bought = [P.Review(r.item.strip(), rating=r.rating) for r in inp.history if r.item.strip()]
    return P.item_selection(inp.candidates, bought, persona=inp.persona, profile=inp.profile)


def _from_person(person: Person, h: History) -> dict[str, Any]:
    return {**about(person), "history": purchases(person, h)}


def _candidates(inp: SelectInput) -> list[str]:
    return inp.candidates


APP = SimApp.of(
    "select", prompt, position=4, max_tokens=64, from_person=_from_person, candidates=_candidates
)


# --- the task: its training rows ----------------------------------------------------------------


@task(NAME, "Item Selection", group="t2", column=0, questions=questions, app=APP)
def build(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    items, users = item_index(g.items), portraits(g.users)
    pools: dict[str, list[tuple[str, str]]] = {}
    for (source, item_id), it in items.items():
        if text(it["title"]):
            pools.setdefault(source, []).append((item_id, text(it["title"])))
    for source, user_id, rows in user_histories(g.records):
        if o.kind(source) != "amazon":
            continue
        user = users.get((source, user_id))
        owned = {str(meta_of(x).get("parent_asin") or "") for x in rows}
        owned_titles = {fold(t) for t in (item_title(x, items)[0] for x in rows) if t}
        for i, r in enumerate(rows):
            title, _ = item_title(r, items)
            if i == 0:
                out.skipped["first purchase of the user (no history)"] += 1
                continue
            rng = rng_for(o.seed, NAME, source, r["record_id"])
            about = persona_or_profile(user, rng) if user else None
            if about is None:
                out.skipped["user without portrait"] += 1
                continue
            if not title:
                out.skipped["item without title"] += 1
                continue
            negatives = draw_negatives(
                pools.get(source, []), owned, owned_titles, o.n_candidates - 1, rng
            )
            if not negatives:
                out.skipped["item pool has no other item"] += 1
                continue
            pos = rng.randrange(len(negatives) + 1)
            target = (str(meta_of(r).get("parent_asin") or ""), title)
            candidates = [*negatives[:pos], target, *negatives[pos:]]
            history = [
                P.Review(item_title(x, items)[0] or "an item", rating=rating_of(x))
                for x in rows[:i][-o.history_items :]
            ]
            prompt = P.item_selection([t for _, t in candidates], history, **about)
            reply, ids = P.item_choice(pos, title), [item_id for item_id, _ in candidates]
            out.add(
                prompt, reply, task=NAME, user=(source, user_id), ref=r["record_id"], candidates=ids
            )
    return out
