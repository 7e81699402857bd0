"""Stage ``qc`` (§2.3, Appendix A.3): a judge model scores every synthesized item — user portraits,
scenarios, social QA — 1-10 on the metrics that apply to its kind (:mod:`humanllm.curation.metrics`),
each with a rationale, against the source records. An item is kept when overall > ``min_overall``
and every other metric > ``min_other`` (the paper: 8 and 7). Every metric is oriented so that a
HIGHER score is BETTER: a high hallucination score means faithful, a high leakage score means the
answer is not given away by the scenario.

The stage's unit is a bucket of users (:mod:`humanllm.curation.buckets`): the judge reads each
item's source records from the item's bucket only."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import polars as pl

from humanllm.curation.buckets import bucket_dir, read_bucket
from humanllm.curation.common import (
    platform_of,
    prompt_key,
    record_text,
    source_kinds,
    stage_llm,
    template,
)
from humanllm.curation.metrics import json_shape, judge_schema, passes, rubric_text
from humanllm.curation.tables import QC_SCHEMA, frame
from humanllm.curation.users import bucket_units, render_history, user_histories
from humanllm.llm.outputs import reject_detail
from humanllm.llm.prompts import Messages, PromptTemplate
from humanllm.stage import StageContext, StageResult
from humanllm.units import Unit, UnitContext, UnitPlan, UnitResult

KIND_NAMES = {
    "user": "user portrait",
    "scenario": "scenario",
    "social_qa": "social question-answer sample",
}


SOURCE_MISSING = "qc.source_missing"


INPUTS = ("labeled", "users", "scenarios", "social_qa")


def _items(
    ctx: StageContext, tables: dict[str, pl.DataFrame | None]
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
    """Judge inputs per kind (``_id``, source, user_id, the item as JSON and its source text)
    from one bucket's tables, and rejects for items whose source records are not in
    ``labeled/`` (nothing to judge them against: written to ``rejects/``, never skipped)."""
    missing: list[dict[str, str]] = []
    kinds = source_kinds(ctx)
    budget = ctx.cfg.curation.users.context_chars
    out: dict[str, list[dict[str, Any]]] = {"user": [], "scenario": [], "social_qa": []}
    labeled = tables["labeled"]
    histories = {u["_id"]: u for u in user_histories(labeled)}
    users = tables["users"]
    for row in [] if users is None else users.to_dicts():
        h = histories.get(f"{row['source']}/{row['user_id']}")
        if h is None:
            missing.append(
                {
                    "kind": "user",
                    "source": row["source"],
                    "record_id": row["user_id"],
                    "reason": SOURCE_MISSING,
                    "detail": f"user {row['user_id']!r} has no records in labeled/",
                }
            )
            continue
        text, _ = render_history(h["rows"], kinds.get(row["source"], "jsonl"), budget)
        item = {k: row[k] for k in ("persona", "profile", "stories", "writing_style")}
        out["user"].append(
            {
                "_id": f"user/{row['source']}/{row['user_id']}",
                "item_id": row["user_id"],
                "source": row["source"],
                "user_id": row["user_id"],
                "item": item,
                "text": text,
            }
        )
    records = (
        {}
        if labeled is None
        else {(r["source"], r["record_id"]): r for h in histories.values() for r in h["rows"]}
    )
    for kind, folder, id_col, cols in (
        ("scenario", "scenarios", "scenario_id", ("time", "place", "characters", "plots")),
        ("social_qa", "social_qa", "qa_id", ("scenario", "question", "answer", "type")),
    ):
        df = tables[folder]
        if df is None:
            continue
        for row in df.sort("source", id_col).to_dicts():
            rec = records.get((row["source"], row["record_id"]))
            if rec is None:
                missing.append(
                    {
                        "kind": kind,
                        "source": row["source"],
                        "record_id": row[id_col],
                        "reason": SOURCE_MISSING,
                        "detail": f"{folder}/ item {row[id_col]!r} comes from record "
                        f"{row['record_id']!r}, which is not in labeled/",
                    }
                )
                continue
            src_text = f"({platform_of(kinds.get(row['source'], 'jsonl'))})\n{record_text(rec)}"
            out[kind].append(
                {
                    "_id": f"{kind}/{row['source']}/{row[id_col]}",
                    "item_id": row[id_col],
                    "source": row["source"],
                    "user_id": row["user_id"],
                    "item": {c: row[c] for c in cols},
                    "text": src_text,
                }
            )
    return out, missing


def _render(tpl: PromptTemplate, kind: str, r: dict[str, Any]) -> Messages:
    return tpl.render(
        kind=KIND_NAMES[kind],
        metric_rubric=rubric_text(kind),
        json_shape=json_shape(kind),
        source=r["text"],
        item=json.dumps(r["item"], ensure_ascii=False, indent=1),
    )


def _units(ctx: StageContext) -> list[Unit]:
    return bucket_units(ctx, INPUTS)


async def _run(uctx: UnitContext) -> UnitResult:
    ctx, unit = uctx.ctx, uctx.unit
    qcfg = ctx.cfg.curation.qc
    tpl = template("qc.v1.txt")
    into = bucket_dir(ctx, ctx.stage, unit.params["n"])
    tables = {f: read_bucket(into, f, unit.params["bucket"]) for f in INPUTS}
    items, missing = _items(ctx, tables)
    result = UnitResult()
    for row in missing:
        result.source(row["source"]).records_in += 1
    if missing:
        mdf = pl.DataFrame(missing).drop("kind")
        for (source,), part in mdf.group_by("source", maintain_order=True):
            result.source(str(source)).rejected += part.height
        ctx.run.write_rejects(ctx.stage, "", f"{unit.id}--missing", mdf)
    kept: dict[str, int] = {}
    out_rows: list[dict[str, Any]] = []
    rejects: list[dict[str, str]] = []
    asked = [kind for kind, rows in items.items() if rows]
    outcomes = await asyncio.gather(  # the three kinds side by side: more requests in flight
        *(
            uctx.llm_session.ask(
                items[kind],
                render=functools.partial(_render, tpl, kind),
                schema=judge_schema(kind),
                prompt_version=prompt_key(tpl),
                step=kind,
            )
            for kind in asked
        )
    )
    for kind, outcome in zip(asked, outcomes, strict=True):
        rows = items[kind]
        rejected_by_id = {r.id: r for r in outcome.rejects}
        for r in rows:
            counts = result.source(r["source"])
            counts.records_in += 1
            if r["_id"] in rejected_by_id:
                rej = rejected_by_id[r["_id"]]
                rejects.append(
                    {
                        "source": r["source"],
                        "record_id": r["item_id"],
                        "reason": rej.reason,
                        "detail": reject_detail(rej),
                    }
                )
                counts.rejected += 1
                continue
            judged = outcome.results[r["_id"]].model_dump()
            scores = {m: v["score"] for m, v in judged.items()}
            ok = passes(scores, qcfg.min_overall, qcfg.min_other)
            out_rows.append(
                {
                    "kind": kind,
                    "item_id": r["item_id"],
                    "source": r["source"],
                    "user_id": r["user_id"],
                    "overall": scores["overall"],
                    "passed": ok,
                    "scores": json.dumps(scores),
                    "rationales": json.dumps(
                        {m: v["rationale"] for m, v in judged.items()}, ensure_ascii=False
                    ),
                }
            )
            if ok:
                counts.records_out += 1
                kept[kind] = kept.get(kind, 0) + 1
                continue
            low = {
                m: s
                for m, s in scores.items()
                if (s <= qcfg.min_overall if m == "overall" else s <= qcfg.min_other)
            }
            rejects.append(
                {
                    "source": r["source"],
                    "record_id": r["item_id"],
                    "reason": f"qc.{kind}.below_threshold",
                    "detail": f"failing metrics {json.dumps(low)}; all scores {json.dumps(scores)}",
                }
            )
            counts.rejected += 1
    if out_rows:
        ctx.run.write_shard("qc", unit.id, frame(out_rows, QC_SCHEMA))
    if rejects:
        ctx.run.write_rejects(ctx.stage, "", unit.id, pl.DataFrame(rejects))
    result.extra["kept"] = kept
    result.extra["judged"] = {k: len(v) for k, v in items.items()}
    result.extra["source_missing"] = len(missing)
    return result


def _finish(ctx: StageContext, result: StageResult) -> StageResult:
    qcfg = ctx.cfg.curation.qc
    result.extra.setdefault("llm", {})
    result.extra["prompt"] = prompt_key(template("qc.v1.txt"))
    result.extra["backend"] = qcfg.backend
    result.extra["thresholds"] = {"min_overall": qcfg.min_overall, "min_other": qcfg.min_other}
    for key in ("kept", "judged"):
        result.extra.setdefault(key, {})
    result.extra.setdefault("source_missing", 0)
    return result


PLAN = UnitPlan(
    units=_units, run=_run, llm=lambda ctx: stage_llm(ctx.cfg.curation.qc), finish=_finish
)
