"""Stage ``social_qa`` (§2.2): scenario-question-answer triplets about the author of each kept
record (not Amazon): the next action, the inner mental state, and the reason behind the behaviour.
The scenario must not reveal the answer: a reply whose answer can be found word for word in its
scenario is re-asked (and the QC judge scores leakage again)."""

from __future__ import annotations

import re
from typing import Any

from humanllm.curation.common import NARRATIVE_KINDS, platform_of, record_text
from humanllm.curation.per_record import PerRecordStage, run_per_record
from humanllm.curation.schemas import SocialQA
from humanllm.stage import StageContext, StageResult


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def check_no_leak(obj: SocialQA, item: dict[str, Any]) -> None:
    """Raise when an answer is restated verbatim inside its own scenario."""
    for qa in obj.items:
        answer = _norm(qa.answer)
        if len(answer) >= 12 and answer in _norm(qa.scenario):
            raise ValueError(
                f"the answer of {qa.question!r} is given away in its scenario; rewrite the scenario"
            )


def run_social_qa(ctx: StageContext) -> StageResult:
    n = ctx.cfg.curation.social_qa.per_record

    def fields(row: dict[str, Any], kind: str) -> dict[str, Any]:
        return {"platform": platform_of(kind), "record": record_text(row), "n_items": n}

    def to_rows(row: dict[str, Any], obj: SocialQA) -> list[dict[str, Any]]:
        return [
            {
                "qa_id": f"{row['record_id']}-{i}",
                "record_id": row["record_id"],
                "user_id": row["user_id"],
                "source": row["source"],
                "scenario": qa.scenario,
                "question": qa.question,
                "answer": qa.answer,
                "type": qa.type,
            }
            for i, qa in enumerate(obj.items)
        ]

    spec = PerRecordStage(
        input_folder="labeled",
        output_folder="social_qa",
        template_name="social_qa.v1.txt",
        schema=SocialQA,
        stage_cfg=lambda c: c.cfg.curation.social_qa,
        fields=fields,
        to_rows=to_rows,
        kinds=NARRATIVE_KINDS,
        validate=check_no_leak,
    )
    return run_per_record(ctx, spec)
