"""The declared schema of every table the curation stages write.

Every shard of a folder is written with its folder's schema, so a column that happens to be empty
in one shard (no record of that source has a title) keeps its type, and a folder's shards always
scan together whatever their order. An empty table is still a table: readers get the columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from humanllm.records import RECORD_SCHEMA, conform

Schema = dict[str, pl.DataType]

#: ``cleaned/``: the records rewritten (same columns as ``filtered/``).
CLEANED_SCHEMA: Schema = dict(RECORD_SCHEMA)

#: ``labeled/`` and the genome's ``records``: the kept records with their labels.
LABELED_SCHEMA: Schema = {**RECORD_SCHEMA, "quality": pl.String(), "harmful": pl.Boolean()}

STORY = pl.Struct({"summary": pl.String(), "narrative": pl.String()})
CHARACTER = pl.Struct({"name": pl.String(), "description": pl.String()})

#: ``users/``: one portrait per user (§2.2).
USERS_SCHEMA: Schema = {
    "user_id": pl.String(),
    "source": pl.String(),
    "persona": pl.String(),
    "profile": pl.String(),
    "stories": pl.List(STORY),
    "writing_style": pl.String(),
    "n_records": pl.Int64(),
    "n_records_shown": pl.Int64(),
}

#: ``scenarios/``: one scenario per narrative record.
SCENARIOS_SCHEMA: Schema = {
    "scenario_id": pl.String(),
    "record_id": pl.String(),
    "user_id": pl.String(),
    "source": pl.String(),
    "time": pl.String(),
    "place": pl.String(),
    "characters": pl.List(CHARACTER),
    "plots": pl.String(),
}

#: ``social_qa/``: scenario-question-answer triplets.
SOCIAL_QA_SCHEMA: Schema = {
    "qa_id": pl.String(),
    "record_id": pl.String(),
    "user_id": pl.String(),
    "source": pl.String(),
    "scenario": pl.String(),
    "question": pl.String(),
    "answer": pl.String(),
    "type": pl.String(),
}

#: ``qc/``: the judge's verdict on each synthesized item.
QC_SCHEMA: Schema = {
    "kind": pl.String(),
    "item_id": pl.String(),
    "source": pl.String(),
    "user_id": pl.String(),
    "overall": pl.Int64(),
    "passed": pl.Boolean(),
    "scores": pl.String(),
    "rationales": pl.String(),
}

#: Columns the genome adds to the items that passed QC.
QC_COLUMNS: Schema = {"qc_overall": pl.Int64(), "qc_scores": pl.String()}

#: Schema of each stage folder (by folder name).
FOLDER_SCHEMAS: dict[str, Schema] = {
    "cleaned": CLEANED_SCHEMA,
    "labeled": LABELED_SCHEMA,
    "users": USERS_SCHEMA,
    "scenarios": SCENARIOS_SCHEMA,
    "social_qa": SOCIAL_QA_SCHEMA,
    "qc": QC_SCHEMA,
}


def frame(rows: Sequence[dict[str, Any]], schema: Schema) -> pl.DataFrame:
    """``rows`` as a frame of exactly ``schema`` (an empty list gives an empty, typed frame).

    Types come from the schema, never from the values, so a column that is all nulls in these
    rows keeps its declared type."""
    if not rows:
        return pl.DataFrame(schema=schema)
    missing = [c for c in schema if c not in rows[0]]
    df = pl.DataFrame(
        [{**{c: None for c in missing}, **r} for r in rows] if missing else list(rows),
        schema_overrides=schema,
        infer_schema_length=None,
    )
    return conform(df, schema)
