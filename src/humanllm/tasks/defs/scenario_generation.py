"""Scenario generation (§3.1, T1): a scenario's characters + its time and place -> the plots.

One row per genome scenario with characters and plots. In-domain: 8-way with generated
distractors; simulator: ``humanllm simulate scenario``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator

from humanllm.simulate.apps import SimApp
from humanllm.simulate.schemas import ITEMS, SHORT, Character, Flag, SampleOptions
from humanllm.tasks import prompts as P
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import BuildOptions, Built, text, user_of
from humanllm.tasks.task import GENERATED, task

NAME = "scenario_generation"


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


class ScenarioInput(SampleOptions):
    """Scenario generation: characters + background (time, place) -> the plots."""

    characters: Annotated[
        list[Character],
        Flag(name="--character", help="'NAME: DESCRIPTION' or 'NAME' (repeatable)."),
    ] = Field(min_length=1, max_length=ITEMS)
    time: Annotated[str, Flag(help="When it happens.")] = Field(default="", max_length=SHORT)
    place: Annotated[str, Flag(help="Where it happens.")] = Field(default="", max_length=SHORT)

    @field_validator("characters", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        """``"Name: description"`` strings are accepted for characters."""
        if not isinstance(value, list):
            return value
        out = []
        for v in value:
            if isinstance(v, str):
                name, _, desc = v.partition(":")
                v = {"name": name.strip(), "description": desc.strip()}
            out.append(v)
        return out


def prompt(inp: ScenarioInput) -> P.Prompt:
    """Scenario generation: characters + time and place -> the plots."""
    cast = [(c.name, c.description) for c in inp.characters]
    return P.scenario_generation(cast, inp.time, inp.place)


APP = SimApp.of("scenario", prompt, position=5, max_tokens=600)


@task(NAME, "Scenario Generation", group="t1", column=2, questions=GENERATED, app=APP)
def build(g: Genome, o: BuildOptions) -> Built:
    out = Built()
    for s in g.scenarios.to_dicts():
        cast, plots = _characters(s["characters"]), text(s["plots"])
        if not cast or not plots:
            out.skipped["scenario without characters or plots"] += 1
            continue
        prompt = P.scenario_generation(cast, text(s["time"]), text(s["place"]))
        out.add(prompt, plots, task=NAME, user=user_of(s), ref=s["record_id"])
    return out
