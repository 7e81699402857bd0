"""Personalized commenting (§3.1, T2): earlier comments (reviews) + a new post (item) -> the
comment (review) the user wrote on it.

- Amazon: the user's most recent earlier reviews (item, stars, text) + the new item's description
  (title, category, price, store, features, description) -> the review (headline and text).
- Reddit and Twitter, when the source names a comments (replies) file: the genome's ``comments``
  table, the user's up to ``history_records`` most recent earlier comments (each with the title,
  or the start, of the post it answers) + the new post (title and text, cut to ``history_chars``)
  -> the comment.

A user's first review or comment has no history and is skipped (counted). Not asked in-domain
(Table 1 has no column for it); simulator: ``humanllm simulate comment``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from humanllm.simulate.apps import SimApp, history_of
from humanllm.simulate.people import History, Person, earlier_comments
from humanllm.simulate.schemas import ITEMS, LONG, Flag, Review, SampleOptions, plain_reviews
from humanllm.tasks import prompts as P
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import (
    BuildOptions,
    Built,
    Row,
    cut,
    full_text,
    item_index,
    item_title,
    rating_of,
    text,
    user_histories,
)
from humanllm.tasks.task import task

NAME = "personalized_commenting"


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


def _commenting_on_items(g: Genome, o: BuildOptions) -> Built:
    """Amazon: earlier reviews + a new item -> the review."""
    out = Built()
    items = item_index(g.items)
    for source, user_id, rows in user_histories(g.records):
        if o.kind(source) != "amazon":
            continue
        for i, r in enumerate(rows):
            title, item = item_title(r, items)
            reply = full_text(r)
            if i == 0:
                out.skipped["first review of the user (no history)"] += 1
                continue
            if not title or not reply:
                out.skipped["review without item title or text"] += 1
                continue
            history = [
                P.Review(
                    item_title(x, items)[0] or "an item",
                    cut(full_text(x), o.history_chars),
                    rating_of(x),
                )
                for x in rows[:i][-o.history_records :]
            ]
            prompt = P.personalized_commenting(describe_item(title, item, o.history_chars), history)
            out.add(prompt, reply, task=NAME, user=(source, user_id), ref=r["record_id"])
    return out


def _earlier(value: str) -> dict[str, str]:
    """'ON WHAT | TEXT' -> {item, text}; without a '|', all of it is the text."""
    head, found, tail = value.partition("|")
    return (
        {"item": head.strip(), "text": tail.strip()}
        if found
        else {"item": "", "text": value.strip()}
    )


class CommentInput(SampleOptions):
    """Personalized commenting: earlier comments (reviews) + a new post (item) -> the comment."""

    post: Annotated[str, Flag(help="The new post (or item).")] = Field(
        min_length=1, max_length=LONG, description="The new post or item."
    )
    history: Annotated[
        list[Review],
        Flag(help="An earlier comment, 'TEXT' or 'ON WHAT | TEXT' (repeatable).", parse=_earlier),
    ] = Field(
        min_length=1,
        max_length=ITEMS,
        description="Earlier comments, oldest first (a plain string is a comment's text).",
    )
    kind: Annotated[
        Literal["comment", "review"], Flag(help="comment (default) or review (Amazon).")
    ] = "comment"

    @field_validator("history", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return plain_reviews(value, "text")


def prompt(inp: CommentInput) -> P.Prompt:
    """Personalized commenting: earlier comments + a new post -> the person's comment."""
    default = "an item" if inp.kind == "review" else "a post"
    return P.personalized_commenting(inp.post, history_of(inp.history, default), kind=inp.kind)


def _from_person(person: Person, h: History) -> dict[str, Any]:
    kind = "review" if person.kind == "amazon" else "comment"
    return {"history": earlier_comments(person, h), "kind": kind}


APP = SimApp.of("comment", prompt, position=3, max_tokens=400, from_person=_from_person)


@task(NAME, "Personalized Commenting", group="t2", app=APP)
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
            out.add(prompt, reply, task=NAME, user=(source, user_id), ref=str(c["comment_id"]))
    return out


build = personalized_commenting
