"""Stage ``social_qa`` (§2.2): three scenario-question-answer triplets about the author of each
kept record (not Amazon), one per aspect of behaviour: the next action, the inner mental state,
and the social reasoning behind it — enforced by the reply's schema.

The scenario must not reveal the answer. A triplet whose answer can be read word for word in its
scenario is not dropped with its record: its scenario is sent back to the model to be refined
(the paper refines the scenario so the answer is not revealed), and only a triplet that still
leaks after that is a reject (``social_qa.answer_in_scenario``); the record's other triplets go
on. The QC judge scores leakage again."""

from __future__ import annotations

from typing import Any

from humanllm.curation.common import (
    narrative_kinds,
    platform_of,
    prompt_key,
    record_text,
    template,
)
from humanllm.curation.per_record import Ask, Drop, PerRecordStage, per_record_plan
from humanllm.curation.schemas import QA, RefinedScenario, SocialQA
from humanllm.curation.tables import SOCIAL_QA_SCHEMA
from humanllm.stage import StageContext
from humanllm.text import alnum_words

TEMPLATE = "social_qa.v2.txt"
REFINE_TEMPLATE = "social_qa_refine.v1.txt"
LEAK = "social_qa.answer_in_scenario"
MIN_LEAK_CHARS = 12  # shorter answers ("yes", "she cried") may appear by chance


def leaks(qa: QA) -> bool:
    """True when the answer is restated verbatim (up to case and punctuation) in the scenario."""
    answer = alnum_words(qa.answer)
    return len(answer) >= MIN_LEAK_CHARS and answer in alnum_words(qa.scenario)


def _fields(row: dict[str, Any], kind: str) -> dict[str, Any]:
    return {"platform": platform_of(kind), "record": record_text(row)}


def _check_refined(obj: RefinedScenario, job: dict[str, Any]) -> None:
    if leaks(QA(scenario=obj.scenario, question=job["question"], answer=job["answer"])):
        raise ValueError("the rewritten scenario still gives the answer away")


async def refine_leaks(
    items: list[dict[str, Any]], results: dict[str, Any], ask: Ask
) -> dict[str, Any]:
    """Re-ask the scenario of every leaking triplet; replace it where the model fixed it."""
    tpl = template(REFINE_TEMPLATE)
    jobs = []
    for it in items:
        obj: SocialQA | None = results.get(it["_id"])
        if obj is None:
            continue
        for kind, qa in obj.triplets():
            if leaks(qa):
                job = {"_id": f"{it['_id']}#{kind}", "_record": it["_id"], "_kind": kind}
                jobs.append({**job, **qa.model_dump()})
    if not jobs:
        return results
    outcome = await ask(
        jobs,
        step="refine",
        render=lambda j: tpl.render(
            question=j["question"], answer=j["answer"], scenario=j["scenario"]
        ),
        schema=RefinedScenario,
        prompt_version=prompt_key(tpl),
        validate=_check_refined,
    )
    out = dict(results)
    for job in jobs:
        refined = outcome.results.get(job["_id"])
        if refined is None:
            continue  # still leaking: to_rows makes that triplet a reject
        obj = out[job["_record"]]
        qa = getattr(obj, job["_kind"]).model_copy(update={"scenario": refined.scenario})
        out[job["_record"]] = obj.model_copy(update={job["_kind"]: qa})
    return out


def _to_rows(row: dict[str, Any], obj: SocialQA) -> list[dict[str, Any] | Drop]:
    out: list[dict[str, Any] | Drop] = []
    for i, (kind, qa) in enumerate(obj.triplets()):
        qa_id = f"{row['record_id']}-{i}"
        if leaks(qa):
            out.append(
                Drop(
                    LEAK,
                    f"{kind}: the answer {qa.answer!r} is in its scenario, also after refining",
                    item_id=qa_id,
                )
            )
            continue
        out.append(
            {
                "qa_id": qa_id,
                "record_id": row["record_id"],
                "user_id": row["user_id"],
                "source": row["source"],
                "scenario": qa.scenario,
                "question": qa.question,
                "answer": qa.answer,
                "type": kind,
            }
        )
    return out


def spec(ctx: StageContext) -> PerRecordStage:
    return PerRecordStage(
        input_folder="labeled",
        output_folder="social_qa",
        output_schema=SOCIAL_QA_SCHEMA,
        template_name=TEMPLATE,
        schema=SocialQA,
        stage_cfg=lambda c: c.cfg.curation.social_qa,
        fields=_fields,
        to_rows=_to_rows,
        kinds=narrative_kinds(),
        refine=refine_leaks,
    )


PLAN = per_record_plan(spec)
