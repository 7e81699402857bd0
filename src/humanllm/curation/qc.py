"""Stage ``qc`` (§2.3, Appendix A.3): a judge model scores every synthesized item — user portraits,
scenarios, social QA — 1-10 on the metrics that apply to its kind (:mod:`humanllm.curation.metrics`),
each with a rationale, against the source records. An item is kept when overall > ``min_overall``
and every other metric > ``min_other`` (the paper: 8 and 7). Every metric is oriented so that a
HIGHER score is BETTER: a high hallucination score means faithful, a high leakage score means the
answer is not given away by the scenario."""

from __future__ import annotations

import functools
import json
from typing import Any

import polars as pl
from pydantic import BaseModel

from humanllm.curation.common import (
    has_input,
    llm_session,
    merge_summaries,
    platform_of,
    prompt_key,
    record_text,
    run_async,
    sampling,
    source_kinds,
    template,
)
from humanllm.curation.metrics import METRICS, json_shape, judge_schema, passes, rubric_text
from humanllm.curation.tables import QC_SCHEMA, frame
from humanllm.curation.users import render_history, user_histories
from humanllm.llm.outputs import reject_detail
from humanllm.llm.progress import RunSummary
from humanllm.llm.prompts import Messages, PromptTemplate
from humanllm.llm.runner import arun_llm
from humanllm.runfolder import SourceCounts
from humanllm.stage import StageContext, StageResult

KIND_NAMES = {
    "user": "user portrait",
    "scenario": "scenario",
    "social_qa": "social question-answer sample",
}


SOURCE_MISSING = "qc.source_missing"


def _items(
    ctx: StageContext,
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, str]]]:
    """Judge inputs per kind (``_id``, source, user_id, the item as JSON and its source text),
    and rejects for items whose source records are not in ``labeled/`` (nothing to judge them
    against: written to ``rejects/``, never skipped silently)."""
    missing: list[dict[str, str]] = []
    kinds = source_kinds(ctx)
    budget = ctx.cfg.curation.users.context_chars
    out: dict[str, list[dict[str, Any]]] = {"user": [], "scenario": [], "social_qa": []}
    histories = {u["_id"]: u for u in user_histories(ctx)}
    users = ctx.run.scan("users")
    if users is not None:
        for row in users.collect().to_dicts():
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
    labeled = ctx.run.scan("labeled")
    records = (
        {}
        if labeled is None
        else {(r["source"], r["record_id"]): r for r in labeled.collect().to_dicts()}
    )
    for kind, folder, id_col, cols in (
        ("scenario", "scenarios", "scenario_id", ("time", "place", "characters", "plots")),
        ("social_qa", "social_qa", "qa_id", ("scenario", "question", "answer", "type")),
    ):
        lf = ctx.run.scan(folder)
        if lf is None:
            continue
        for row in lf.collect().to_dicts():
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


def run_qc(ctx: StageContext) -> StageResult:
    if not has_input(ctx, "labeled"):
        return StageResult()
    qcfg = ctx.cfg.curation.qc
    tpl = template("qc.v1.txt")
    items, missing = _items(ctx)
    schemas: dict[str, type[BaseModel]] = {kind: judge_schema(kind) for kind in METRICS}
    summaries: list[RunSummary] = []
    outcomes: dict[str, Any] = {}

    async def main() -> None:
        async with llm_session(ctx, qcfg.backend) as (backend, cache):
            for kind, rows in items.items():
                if not rows:
                    continue
                outcomes[kind] = await arun_llm(
                    rows,
                    render=functools.partial(_render, tpl, kind),
                    schema=schemas[kind],
                    backend=backend,
                    cache=cache,
                    stage=f"{ctx.stage}.{kind}",
                    prompt_version=prompt_key(tpl),
                    sampling=sampling(qcfg),
                    runner_cfg=ctx.cfg.llm.runner,
                    id_field="_id",
                )
                summaries.append(outcomes[kind].summary)

    if any(items.values()):
        run_async(main)
    result = StageResult()
    for row in missing:
        result.counts.setdefault(row["source"], SourceCounts()).records_in += 1
    if missing:
        mdf = pl.DataFrame(missing)
        for (kind, source), part in mdf.group_by("kind", "source", maintain_order=True):
            result.counts[str(source)].rejected += ctx.run.write_rejects(
                ctx.stage, str(source), f"{kind}-{source}-missing", part.drop("kind", "source")
            )
    kept_by_kind: dict[str, int] = {}
    for kind, rows in items.items():
        if kind not in outcomes:
            continue
        outcome = outcomes[kind]
        rejected_by_id = {r.id: r for r in outcome.rejects}
        out_rows, rejects = [], []
        for r in rows:
            counts = result.counts.setdefault(r["source"], SourceCounts())
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
                kept_by_kind[kind] = kept_by_kind.get(kind, 0) + 1
            else:
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
        if out_rows:
            ctx.run.write_shard("qc", f"{kind}-00000", frame(out_rows, QC_SCHEMA))
        if rejects:
            rdf = pl.DataFrame(rejects)
            for (source,), part in rdf.group_by("source", maintain_order=True):
                result.counts[str(source)].rejected += ctx.run.write_rejects(
                    ctx.stage, str(source), f"{kind}-{source}", part.drop("source")
                )
    result.extra["llm"] = merge_summaries(summaries)
    result.extra["prompt"] = prompt_key(tpl)
    result.extra["backend"] = qcfg.backend
    result.extra["thresholds"] = {"min_overall": qcfg.min_overall, "min_other": qcfg.min_other}
    result.extra["kept"] = kept_by_kind
    result.extra["judged"] = {k: len(v) for k, v in items.items()}
    result.extra["source_missing"] = len(missing)
    return result
