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
- personalized_commenting (:mod:`humanllm.tasks.commenting`): for Amazon, the user's most recent earlier reviews (item, stars,
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

from humanllm.seeds import rng_for
from humanllm.tasks import prompts as P
from humanllm.tasks.commenting import personalized_commenting
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import (
    BuildOptions,
    Built,
    cut,
    first_sentence,
    full_text,
    item_index,
    item_title,
    meta_of,
    persona_or_profile,
    portraits,
    rating_of,
    sharegpt,
    text,
    user_histories,
)
from humanllm.text import fold

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


def writing_imitation(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    scenarios = {(s["source"], s["record_id"]): s for s in g.scenarios.to_dicts()}
    items, users = item_index(g.items), portraits(g.users)
    for source, user_id, rows in user_histories(g.records):
        style = text((users.get((source, user_id)) or {}).get("writing_style"))
        amazon = o.kind(source) == "amazon"
        for i, r in enumerate(rows):
            title, body = text(r["title"]), text(r["text"])
            if amazon:
                item, _ = item_title(r, items)
                topic, reply = (P.review_topic(item, rating_of(r)) if item else ""), full_text(r)
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


def item_selection(g: Genome, o: BuildOptions) -> Built:
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
                P.Review(item_title(x, items)[0] or "an item", rating=rating_of(x))
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
