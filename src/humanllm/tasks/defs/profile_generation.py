"""Profile generation (§3.1, T1): a user's brief persona -> their detailed profile.

One row per user with both a persona and a profile. In-domain: 8-way with generated distractors;
application study: Profile Generation (Table B2); simulator: ``humanllm simulate profile``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from humanllm.evaluation.judge import Application, Score
from humanllm.simulate.apps import SimApp
from humanllm.simulate.people import History, Person
from humanllm.simulate.schemas import LONG, Flag, SampleOptions
from humanllm.tasks import prompts as P
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import BuildOptions, Built, text, user_of
from humanllm.tasks.task import GENERATED, task

NAME = "profile_generation"


class ProfileInput(SampleOptions):
    """Profile generation: a brief persona -> a detailed profile."""

    persona: Annotated[str, Flag(help="Brief persona of the person.")] = Field(
        min_length=1, max_length=LONG
    )


def prompt(inp: ProfileInput) -> P.Prompt:
    """Profile generation: a brief persona -> a detailed profile."""
    return P.profile_generation(inp.persona)


def _from_person(person: Person, h: History) -> dict[str, object]:
    return {"persona": person.persona}


class ProfileJudgement(BaseModel):
    faithfulness: Score
    realism: Score
    coverage: Score


JUDGE = Application(
    "profile_generation", "Profile Generation", NAME, "judge_profile.v1.txt", ProfileJudgement
)
APP = SimApp.of("profile", prompt, position=0, max_tokens=700, from_person=_from_person)


@task(NAME, "Profile Generation", group="t1", column=1, questions=GENERATED, judge=JUDGE, app=APP)
def build(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    for u in g.users.to_dicts():
        persona, profile = text(u["persona"]), text(u["profile"])
        if not persona or not profile:
            out.skipped["user without persona or profile"] += 1
            continue
        out.add(
            P.profile_generation(persona), profile, task=NAME, user=user_of(u), ref=u["user_id"]
        )
    return out
