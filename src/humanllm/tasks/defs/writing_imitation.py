"""Writing imitation (§3.1, T2): a user's earlier records or writing style + a topic -> the text.

One row per record: the user's up to ``history_records`` most recent earlier records (each cut to
``history_chars``) or their writing-style description (one of the two at random, seeded by the
record) + a topic -> the text. The topic: a Reddit-style title when the record has one (the reply
is then the body); for an Amazon review, the item's title and the stars given (the reply is the
headline and the review); otherwise the first sentence of the record's scenario plots (a record
without a scenario that passed QC is skipped). In-domain: 8-way with generated distractors;
application study: Personalized Writing (Table B4); simulator: ``humanllm simulate write``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator

from humanllm.evaluation.judge import Application, Score
from humanllm.seeds import rng_for
from humanllm.simulate.apps import SimApp
from humanllm.simulate.people import History, Person, writings
from humanllm.simulate.schemas import ITEMS, LONG, SHORT, Flag, SampleOptions, blank_to_none
from humanllm.tasks import prompts as P
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import (
    BuildOptions,
    Built,
    cut,
    first_sentence,
    full_text,
    item_index,
    item_title,
    portraits,
    rating_of,
    text,
    user_histories,
)
from humanllm.tasks.task import GENERATED, task

NAME = "writing_imitation"


class WriteInput(SampleOptions):
    """Personalized writing: earlier texts or a style description + a topic -> a new text."""

    topic: Annotated[str, Flag(help="What to write about.")] = Field(min_length=1, max_length=SHORT)
    kind: Annotated[str, Flag(help='"Reddit post", "tweet", "blog post" ...')] = Field(
        default="social-media post",
        min_length=1,
        max_length=100,
        description='What to write: "Reddit post", "tweet", "blog post", "product review" ...',
    )
    samples: Annotated[list[str], Flag(name="--sample", help="An earlier text (repeatable).")] = (
        Field(default_factory=list, max_length=ITEMS, description="Earlier texts, oldest first.")
    )
    style: Annotated[str | None, Flag(help="How the person writes.")] = Field(
        default=None, max_length=LONG, description="How the person writes."
    )

    @field_validator("style", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("samples")
    @classmethod
    def _samples(cls, value: list[str]) -> list[str]:
        if any(len(s) > LONG for s in value):
            raise ValueError(f"each sample must be at most {LONG} characters")
        return [s for s in value if s.strip()]

    @model_validator(mode="after")
    def _voice(self) -> WriteInput:
        if not self.samples and self.style is None:
            raise ValueError("give earlier texts (samples) or a writing-style description (style)")
        return self


def prompt(inp: WriteInput) -> P.Prompt:
    """Personalized writing: earlier texts or a style description + a topic -> a text in the
    person's voice."""
    return P.writing_imitation(inp.topic, inp.kind, history=inp.samples, writing_style=inp.style)


def _from_person(person: Person, h: History) -> dict[str, Any]:
    write: dict[str, Any] = {"kind": person.platform, "samples": writings(person, h)}
    if person.writing_style:
        write["style"] = person.writing_style
    return write


class WritingJudgement(BaseModel):
    style_match: Score
    content_relevance: Score
    content_similarity: Score


JUDGE = Application(
    "personalized_writing", "Personalized Writing", NAME, "judge_writing.v1.txt", WritingJudgement
)
APP = SimApp.of("write", prompt, position=2, max_tokens=600, from_person=_from_person)


@task(NAME, "Writing Imitation", group="t2", column=4, questions=GENERATED, judge=JUDGE, app=APP)
def build(g: Genome, o: BuildOptions) -> Built:
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
            rng = rng_for(o.seed, NAME, source, r["record_id"])
            use_history = bool(earlier) and (not style or rng.random() < 0.5)
            prompt = P.writing_imitation(
                topic,
                o.text_kind(source),
                history=earlier if use_history else (),
                writing_style=None if use_history else style,
            )
            out.add(prompt, reply, task=NAME, user=(source, user_id), ref=r["record_id"])
    return out
