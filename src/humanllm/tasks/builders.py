"""The task builders by task name: genome tables -> single-turn ShareGPT rows.

Each task's builder lives in its module (:mod:`humanllm.tasks.defs`), a function
``(Genome, BuildOptions) -> Built``; this module keeps the names callers used. Where the paper
says "persona or profile" (or "writing history or style"), each row picks one at random, seeded by
the row's id. Inputs a builder cannot use are counted by reason.
"""

from __future__ import annotations

from typing import Any

from humanllm.tasks.defs.item_selection import build as item_selection
from humanllm.tasks.defs.item_selection import draw_negatives
from humanllm.tasks.defs.personalized_commenting import build as personalized_commenting
from humanllm.tasks.defs.profile_generation import build as profile_generation
from humanllm.tasks.defs.scenario_generation import build as scenario_generation
from humanllm.tasks.defs.social_qa import build as social_qa
from humanllm.tasks.defs.writing_imitation import build as writing_imitation
from humanllm.tasks.task import Builder

__all__ = [
    "Builder",
    "draw_negatives",
    "item_selection",
    "personalized_commenting",
    "profile_generation",
    "scenario_generation",
    "social_qa",
    "writing_imitation",
]


def builders() -> dict[str, Builder]:
    """Every registered task's builder, by task (and folder) name, in the registry's order."""
    from humanllm.tasks.registry import tasks

    return {t.name: t.build for t in tasks()}


def __getattr__(name: str) -> Any:
    if name == "BUILDERS":  # the name callers used when this was a table
        return builders()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
