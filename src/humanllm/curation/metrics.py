"""The quality-control metrics of the paper's Appendix A.3, which apply to which kind of item, and
the judge's reply schema per kind. Every metric is oriented so that HIGHER IS BETTER."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field, create_model

from humanllm.fields import StrictModel

RUBRIC: dict[str, str] = {
    "hallucination": "faithfulness: 10 = every key detail, event and characterisation is supported by the source or is a "
    "reasonable inference that does not change the core story; 1 = invents major experiences. (A HIGH score means FAITHFUL.)",
    "coverage": "10 = captures the salient, meaningful and distinctive aspects of the source with no critical omission; 1 = misses them.",
    "conciseness": "10 = succinct and cohesive, no redundancy or repetition; 1 = padded or repetitive.",
    "relevance": "10 = only information about this person, nothing generic, promotional or off-topic from the source; 1 = mostly irrelevant.",
    "fidelity": "10 = vivid, detailed and coherent rather than generic; the parts (and scenario, question and answer) connect "
    "logically and keep the emotional or personal resonance; 1 = generic or incoherent.",
    "novelty": "10 = interesting, distinctive and memorable, showing this person's unique personality, experiences or perspective; "
    "1 = formulaic or generic.",
    "leakage": "10 = the answer needs genuine social reasoning and cannot be read off the scenario; 1 = the answer is copied or "
    "restated from the scenario. (A HIGH score means NO LEAKAGE.)",
    "overall": "holistic quality of the item as training data about this person.",
}

#: Which metrics apply to which kind of synthesized item (Appendix A.3; ``overall`` always last).
METRICS: dict[str, tuple[str, ...]] = {
    "user": ("hallucination", "coverage", "conciseness", "relevance", "novelty", "overall"),
    "scenario": ("hallucination", "coverage", "fidelity", "novelty", "overall"),
    "social_qa": ("hallucination", "coverage", "fidelity", "novelty", "leakage", "overall"),
}


class Score(StrictModel):
    score: int = Field(ge=1, le=10)
    rationale: str = Field(default="", max_length=200)


def judge_schema(kind: str) -> type[BaseModel]:
    """The pydantic model of the judge's reply for ``kind``: one :class:`Score` per metric."""
    fields: dict = {m: (Score, ...) for m in METRICS[kind]}
    model: type[BaseModel] = create_model(f"Judge_{kind}", __base__=StrictModel, **fields)
    return model


def rubric_text(kind: str) -> str:
    return "\n".join(f"- {m}: {RUBRIC[m]}" for m in METRICS[kind])


def json_shape(kind: str) -> str:
    return json.dumps({m: {"score": "1-10", "rationale": "..."} for m in METRICS[kind]})


def passes(scores: dict[str, int], min_overall: float, min_other: float) -> bool:
    """The paper's rule: overall > min_overall and every other metric > min_other."""
    return scores["overall"] > min_overall and all(
        v > min_other for k, v in scores.items() if k != "overall"
    )
