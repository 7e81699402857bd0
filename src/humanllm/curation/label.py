"""Stage ``label`` (§2.1): quality (high / medium / low) and harmfulness of each cleaned record;
only records whose quality is in ``curation.label.keep_quality`` (the paper: high) and that are not
harmful go on. Dropped records are in ``rejects/`` with the label and the model's rationale."""

from __future__ import annotations

import json
from typing import Any

from humanllm.curation.common import item_context, platform_of, record_text
from humanllm.curation.per_record import Drop, PerRecordStage, per_record_plan
from humanllm.curation.schemas import Labels
from humanllm.curation.tables import LABELED_SCHEMA
from humanllm.stage import StageContext


def _fields(row: dict[str, Any], kind: str) -> dict[str, Any]:
    context = item_context(row) if kind == "amazon" else ""
    return {"platform": platform_of(kind), "record": f"{context}\n{record_text(row)}".strip()}


def spec(ctx: StageContext) -> PerRecordStage:
    keep = set(ctx.cfg.curation.label.keep_quality)
    drop_harmful = ctx.cfg.curation.label.drop_harmful
    tally: dict[str, int] = {"high": 0, "medium": 0, "low": 0, "harmful": 0}

    def to_rows(row: dict[str, Any], obj: Labels) -> list[dict[str, Any]] | Drop:
        tally[obj.quality] += 1
        tally["harmful"] += obj.harmful
        detail = json.dumps(obj.model_dump(), ensure_ascii=False)
        if obj.harmful and drop_harmful:
            return Drop("label.harmful", detail)
        if obj.quality not in keep:
            return Drop(f"label.quality_{obj.quality}", detail)
        return [{**row, "quality": obj.quality, "harmful": obj.harmful}]

    return PerRecordStage(
        input_folder="cleaned",
        output_folder="labeled",
        output_schema=LABELED_SCHEMA,
        template_name="label.v1.txt",
        schema=Labels,
        stage_cfg=lambda c: c.cfg.curation.label,
        fields=_fields,
        to_rows=to_rows,
        report=lambda: {"labels": dict(tally)},
    )


PLAN = per_record_plan(spec)
