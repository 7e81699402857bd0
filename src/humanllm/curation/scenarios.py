"""Stage ``scenarios`` (§2.2): each kept record (not Amazon) as a story of background (time,
place), characters and plots."""

from __future__ import annotations

from typing import Any

from humanllm.curation.common import narrative_kinds, platform_of, record_text
from humanllm.curation.per_record import PerRecordStage, per_record_plan
from humanllm.curation.schemas import Scenario
from humanllm.curation.tables import SCENARIOS_SCHEMA
from humanllm.stage import StageContext


def _fields(row: dict[str, Any], kind: str) -> dict[str, Any]:
    return {"platform": platform_of(kind), "record": record_text(row)}


def _to_rows(row: dict[str, Any], obj: Scenario) -> list[dict[str, Any]]:
    return [
        {
            "scenario_id": row["record_id"],
            "record_id": row["record_id"],
            "user_id": row["user_id"],
            "source": row["source"],
            "time": obj.background.time,
            "place": obj.background.place,
            "characters": [c.model_dump() for c in obj.characters],
            "plots": obj.plots,
        }
    ]


def spec(ctx: StageContext) -> PerRecordStage:
    return PerRecordStage(
        input_folder="labeled",
        output_folder="scenarios",
        output_schema=SCENARIOS_SCHEMA,
        template_name="scenarios.v1.txt",
        schema=Scenario,
        stage_cfg=lambda c: c.cfg.curation.scenarios,
        fields=_fields,
        to_rows=_to_rows,
        kinds=narrative_kinds(),
    )


PLAN = per_record_plan(spec)
