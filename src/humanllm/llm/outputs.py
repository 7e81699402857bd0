"""Writing a runner outcome into the run folder: one Parquet shard of results, one of rejects."""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel

from humanllm.llm.runner import Reject, RunOutcome
from humanllm.runfolder import RunFolder

MAX_DETAIL_CHARS = 4000
MAX_RAW_CHARS = 2000


def reject_detail(reject: Reject) -> str:
    """The error, then the raw reply (both truncated): what a person needs to see why."""
    raw = reject.raw_text
    if len(raw) > MAX_RAW_CHARS:
        raw = raw[:MAX_RAW_CHARS] + f"... [{len(reject.raw_text) - MAX_RAW_CHARS} more chars]"
    detail = f"{reject.error} (after {reject.attempts} replies)"
    if raw:
        detail += f"\n--- raw reply ---\n{raw}"
    return detail[:MAX_DETAIL_CHARS]


def results_frame(outcome: RunOutcome[Any], *, id_field: str = "record_id") -> pl.DataFrame:
    """One row per result: ``id_field`` and the model's fields (nested values stay nested)."""
    rows: list[dict[str, Any]] = []
    for key, obj in outcome.results.items():
        data = obj.model_dump(mode="json") if isinstance(obj, BaseModel) else dict(obj)
        rows.append({id_field: key, **data})
    if not rows:
        return pl.DataFrame(schema={id_field: pl.String()})
    return pl.DataFrame(rows, infer_schema_length=None)


def rejects_frame(outcome: RunOutcome[Any]) -> pl.DataFrame:
    rejects = outcome.rejects
    return pl.DataFrame(
        {
            "record_id": [r.id for r in rejects],
            "reason": [r.reason for r in rejects],
            "detail": [reject_detail(r) for r in rejects],
        },
        schema={"record_id": pl.String(), "reason": pl.String(), "detail": pl.String()},
    )


def write_outcome(
    run: RunFolder,
    outcome: RunOutcome[Any],
    *,
    folder: str,
    stage: str,
    shard: str,
    source: str = "",
    id_field: str = "record_id",
) -> tuple[int, int]:
    """Write ``<folder>/<shard>.parquet`` and ``rejects/<stage>-<shard>.parquet``; ``(out, rejected)``."""
    run.write_shard(folder, shard, results_frame(outcome, id_field=id_field))
    rejected = run.write_rejects(stage, source, shard, rejects_frame(outcome))
    return len(outcome.results), rejected
