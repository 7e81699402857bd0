"""The six task builders (§3.1): genome tables -> single-turn ShareGPT rows.

Each builder is a function ``(Genome, BuildOptions) -> Built``; :data:`BUILDERS` is the table the
stage runs. Where the paper says "persona or profile" (or "writing history or style"), each row
picks one at random, seeded by the row's id. Inputs a builder cannot use are counted by reason.

- profile_generation: one row per user: persona -> profile.
- scenario_generation: one row per scenario: characters + time and place -> plots.
- social_qa: one row per QA pair whose user has a portrait: persona or profile + scenario +
  question -> answer (``qa_type`` kept).
- writing_imitation: one row per record: the user's up to ``history_records`` most recent earlier
  records (each cut to ``history_chars``) or their writing-style description + a topic -> the text.
  The topic: a Reddit-style title when the record has one (the reply is then the body); for an
  Amazon review, the item's title and the stars given (the reply is the headline and the review);
  otherwise the first sentence of the record's scenario plots (a record without a scenario that
  passed QC is skipped).
- personalized_commenting: for Amazon, the user's most recent earlier reviews (item, stars,
  text) + the new item's description (title, category, price, store, features, description) -> the
  review (headline and text); for Reddit and Twitter, when the source names a comments (replies)
  file, the genome's ``comments`` table: the user's up to ``history_records`` most recent earlier
  comments (each with the title, or the start, of the post it answers) + the new post (title and
  text, cut to ``history_chars``) -> the comment. A user's first review or comment has no
  history and is skipped; without a comments file Reddit and Twitter produce no rows.
- item_selection: Amazon only — a reviewed item counts as bought. For each of a user's reviews
  after the first: persona or profile + up to ``history_items`` earlier purchases (title, stars) +
  ``n_candidates`` candidates (the true item at a random position and random items of the same
  source's item pool that the user never reviewed, no two with the same title) -> ``"C. <title>"``.
  The candidates' item ids, in the order shown, are kept in ``candidates``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from humanllm.tasks import prompts as P
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import (
    BuildOptions,
    Built,
    Row,
    cut,
    first_sentence,
    full_text,
    meta_of,
    persona_or_profile,
    portraits,
    rng_for,
    sharegpt,
    text,
    user_histories,
)

Builder = Callable[[Genome, BuildOptions], Built]


def profile_generation(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    for u in g.users.to_dicts():
        persona, profile = text(u["persona"]), text(u["profile"])
        if not persona or not profile:
            out.skipped["user without persona or profile"] += 1
            continue
        prompt = P.profile_generation(persona)
        out.rows.append(
            sharegpt(
                prompt,
                profile,
                task="profile_generation",
                source=u["source"],
                user_id=u["user_id"],
                ref=u["user_id"],
            )
        )
    return out


def _characters(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    cast = []
    for c in value or []:
        if isinstance(c, dict) and text(c.get("name")):
            cast.append((text(c.get("name")), text(c.get("description"))))
    return cast


def scenario_generation(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    for s in g.scenarios.to_dicts():
        cast, plots = _characters(s["characters"]), text(s["plots"])
        if not cast or not plots:
            out.skipped["scenario without characters or plots"] += 1
            continue
        prompt = P.scenario_generation(cast, text(s["time"]), text(s["place"]))
        out.rows.append(
            sharegpt(
                prompt,
                plots,
                task="scenario_generation",
                source=s["source"],
                user_id=s["user_id"],
                ref=s["record_id"],
            )
        )
    return out


def social_qa(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    users = portraits(g.users)
    for q in g.social_qa.to_dicts():
        user = users.get((q["source"], q["user_id"]))
        about = (
            persona_or_profile(user, rng_for(o.seed, "social_qa", q["source"], q["qa_id"]))
            if user
            else None
        )
        if about is None:
            out.skipped["user without portrait"] += 1
            continue
        scenario, question, answer = text(q["scenario"]), text(q["question"]), text(q["answer"])
        if not scenario or not question or not answer:
            out.skipped["empty scenario, question or answer"] += 1
            continue
        out.rows.append(
            sharegpt(
                P.social_qa(scenario, question, **about),
                answer,
                task="social_qa",
                source=q["source"],
                user_id=q["user_id"],
                ref=q["qa_id"],
                qa_type=text(q.get("type")) or None,
            )
        )
    return out


def _items(g: Genome) -> dict[tuple[str, str], Row]:
    return {(r["source"], r["item_id"]): r for r in g.items.to_dicts()}


def _item_title(r: Row, items: dict[tuple[str, str], Row]) -> tuple[str, Row | None]:
    meta = meta_of(r)
    item = items.get((r["source"], str(meta.get("parent_asin") or "")))
    return (text(item["title"]) if item else "") or text(meta.get("item_title")), item


def _rating(r: Row) -> float | None:
    value = meta_of(r).get("rating")
    return float(value) if isinstance(value, int | float) else None


def writing_imitation(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    scenarios = {(s["source"], s["record_id"]): s for s in g.scenarios.to_dicts()}
    items, users = _items(g), portraits(g.users)
    for source, user_id, rows in user_histories(g.records):
        style = text((users.get((source, user_id)) or {}).get("writing_style"))
        amazon = o.kind(source) == "amazon"
        for i, r in enumerate(rows):
            title, body = text(r["title"]), text(r["text"])
            if amazon:
                item, _ = _item_title(r, items)
                topic, reply = (P.review_topic(item, _rating(r)) if item else ""), full_text(r)
            elif title:
                topic, reply = title, body
            else:
                scenario = scenarios.get((source, r["record_id"]))
                topic = first_sentence(text(scenario["plots"])) if scenario else ""
                reply = body
            if not topic or not reply:
                out.skipped["record without topic (title, item or scenario)"] += 1
                continue
            earlier = [cut(full_text(x), o.history_chars) for x in rows[:i][-o.history_records :]]
            earlier = [e for e in earlier if e]
            if not earlier and not style:
                out.skipped["no earlier record and no writing style"] += 1
                continue
            rng = rng_for(o.seed, "writing_imitation", source, r["record_id"])
            use_history = bool(earlier) and (not style or rng.random() < 0.5)
            prompt = P.writing_imitation(
                topic,
                o.text_kind(source),
                history=earlier if use_history else (),
                writing_style=None if use_history else style,
            )
            out.rows.append(
                sharegpt(
                    prompt,
                    reply,
                    task="writing_imitation",
                    source=source,
                    user_id=user_id,
                    ref=r["record_id"],
                )
            )
    return out


def describe_item(title: str, item: Row | None, limit: int) -> str:
    """An item as the commenting prompt shows it: title, then what the items table knows."""
    lines = [f"Title: {title}"]
    if item:
        if text(item.get("main_category")):
            lines.append(f"Category: {text(item['main_category'])}")
        if isinstance(item.get("price"), int | float):
            lines.append(f"Price: ${item['price']:.2f}")
        if text(item.get("store")):
            lines.append(f"Store: {text(item['store'])}")
        for key in ("features", "description"):
            if text(item.get(key)):
                lines.append(f"{key.capitalize()}: {cut(text(item[key]), limit)}")
    return "\n".join(lines)


def describe_post(title: str | None, body: str | None, limit: int) -> str:
    """A post as the commenting prompt shows it: its title (when it has one), then its text
    without the title it starts with."""
    title, body = text(title), text(body)
    if title and body.startswith(title):
        body = body[len(title) :].strip()
    lines = [f"Title: {title}"] if title else []
    if body:
        lines.append(cut(body, limit))
    return "\n".join(lines)


def _commented_on(c: Row, limit: int = 120) -> str:
    return text(c.get("post_title")) or cut(text(c.get("post_text")), limit) or "a post"


def personalized_commenting(g: Genome, o: BuildOptions) -> Built:
    out = _commenting_on_items(g, o)
    for source, user_id, rows in user_histories(g.comments):
        if o.kind(source) == "amazon":
            continue
        for i, c in enumerate(rows):
            reply = text(c.get("text"))
            if i == 0:
                out.skipped["first comment of the user (no history)"] += 1
                continue
            post = describe_post(c.get("post_title"), c.get("post_text"), o.history_chars)
            if not reply or not post:
                out.skipped["comment without text or post"] += 1
                continue
            history = [
                P.Review(_commented_on(x), cut(text(x.get("text")), o.history_chars))
                for x in rows[:i][-o.history_records :]
            ]
            prompt = P.personalized_commenting(post, history, kind="comment")
            out.rows.append(
                sharegpt(
                    prompt,
                    reply,
                    task="personalized_commenting",
                    source=source,
                    user_id=user_id,
                    ref=str(c["comment_id"]),
                )
            )
    return out


def _commenting_on_items(g: Genome, o: BuildOptions) -> Built:
    """Amazon: earlier reviews + a new item -> the review."""
    out = Built()
    items = _items(g)
    for source, user_id, rows in user_histories(g.records):
        if o.kind(source) != "amazon":
            continue
        for i, r in enumerate(rows):
            title, item = _item_title(r, items)
            reply = full_text(r)
            if i == 0:
                out.skipped["first review of the user (no history)"] += 1
                continue
            if not title or not reply:
                out.skipped["review without item title or text"] += 1
                continue
            history = [
                P.Review(
                    _item_title(x, items)[0] or "an item",
                    cut(full_text(x), o.history_chars),
                    _rating(x),
                )
                for x in rows[:i][-o.history_records :]
            ]
            prompt = P.personalized_commenting(describe_item(title, item, o.history_chars), history)
            out.rows.append(
                sharegpt(
                    prompt,
                    reply,
                    task="personalized_commenting",
                    source=source,
                    user_id=user_id,
                    ref=r["record_id"],
                )
            )
    return out


def _norm(title: str) -> str:
    return " ".join(title.lower().split())


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
        if item[0] not in exclude_ids and _norm(item[1]) not in seen:
            seen.add(_norm(item[1]))
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


def item_selection(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    items, users = _items(g), portraits(g.users)
    pools: dict[str, list[tuple[str, str]]] = {}
    for (source, item_id), it in items.items():
        if text(it["title"]):
            pools.setdefault(source, []).append((item_id, text(it["title"])))
    for source, user_id, rows in user_histories(g.records):
        if o.kind(source) != "amazon":
            continue
        user = users.get((source, user_id))
        owned = {str(meta_of(x).get("parent_asin") or "") for x in rows}
        owned_titles = {_norm(t) for t in (_item_title(x, items)[0] for x in rows) if t}
        for i, r in enumerate(rows):
            title, _ = _item_title(r, items)
            if i == 0:
                out.skipped["first purchase of the user (no history)"] += 1
                continue
            rng = rng_for(o.seed, "item_selection", source, r["record_id"])
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
                P.Review(_item_title(x, items)[0] or "an item", rating=_rating(x))
                for x in rows[:i][-o.history_items :]
            ]
            prompt = P.item_selection([t for _, t in candidates], history, **about)
            out.rows.append(
                sharegpt(
                    prompt,
                    P.item_choice(pos, title),
                    task="item_selection",
                    source=source,
                    user_id=user_id,
                    ref=r["record_id"],
                    candidates=[item_id for item_id, _ in candidates],
                )
            )
    return out


#: The six builders, by task (and folder) name, in the paper's order.
BUILDERS: dict[str, Builder] = {
    "profile_generation": profile_generation,
    "scenario_generation": scenario_generation,
    "social_qa": social_qa,
    "writing_imitation": writing_imitation,
    "personalized_commenting": personalized_commenting,
    "item_selection": item_selection,
}
