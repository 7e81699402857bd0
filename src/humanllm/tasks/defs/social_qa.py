"""Social QA (§3.1, T1): a user's persona or profile + a scenario + a question -> their answer.

One row per QA pair whose user has a portrait (``qa_type`` kept). In-domain: 8-way with generated
distractors; application study: Human Explainer (Table B3); simulator: ``humanllm simulate
explain``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from humanllm.evaluation.judge import Application, Score
from humanllm.seeds import rng_for
from humanllm.simulate.apps import SimApp
from humanllm.simulate.people import History, Person, about
from humanllm.simulate.schemas import LONG, SHORT, About, Flag
from humanllm.tasks import prompts as P
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import BuildOptions, Built, persona_or_profile, portraits, text, user_of
from humanllm.tasks.task import GENERATED, task

NAME = "social_qa"


class ExplainInput(About):
    """Human explainer: persona or profile + a scenario + a question -> the person's answer."""

    scenario: Annotated[str, Flag(help="The situation.")] = Field(min_length=1, max_length=LONG)
    question: Annotated[str, Flag(help="What to explain.")] = Field(min_length=1, max_length=SHORT)


def prompt(inp: ExplainInput) -> P.Prompt:
    """Human explainer: persona or profile + scenario + question -> the person's action, thought
    or reason."""
    return P.social_qa(inp.scenario, inp.question, persona=inp.persona, profile=inp.profile)


def _from_person(person: Person, h: History) -> dict[str, Any]:
    return about(person)


class ExplainerJudgement(BaseModel):
    contextual_relevance: Score
    logical_consistency: Score
    alignment: Score


JUDGE = Application(
    "human_explainer", "Human Explainer", NAME, "judge_explainer.v1.txt", ExplainerJudgement
)
APP = SimApp.of("explain", prompt, position=1, max_tokens=400, from_person=_from_person)


@task(NAME, "Social QA", group="t1", column=3, questions=GENERATED, judge=JUDGE, app=APP)
def build(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    users = portraits(g.users)
    for q in g.social_qa.to_dicts():
        user = users.get(user_of(q))
        about_ = (
            persona_or_profile(user, rng_for(o.seed, NAME, q["source"], q["qa_id"]))
            if user
            else None
        )
        if about_ is None:
            out.skipped["user without portrait"] += 1
            continue
        scenario, question, answer = text(q["scenario"]), text(q["question"]), text(q["answer"])
        if not scenario or not question or not answer:
            out.skipped["empty scenario, question or answer"] += 1
            continue
        prompt, qa_type = P.social_qa(scenario, question, **about_), text(q.get("type")) or None
        out.add(prompt, answer, task=NAME, user=user_of(q), ref=q["qa_id"], qa_type=qa_type)
    return out
