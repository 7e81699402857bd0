"""The shape shared by the per-record LLM stages (clean, label, scenarios, social_qa): rows of an
input folder -> one request each -> validated objects -> rows of an output folder, shard by shard,
with every record that does not come out written to ``rejects/`` with a reason."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from pydantic import BaseModel

from humanllm.curation.common import (
    has_input,
    iter_shards,
    llm_session,
    merge_summaries,
    prompt_key,
    run_async,
    sampling,
    source_kinds,
    subsample,
    template,
)
from humanllm.curation.config import LLMStageConfig
from humanllm.curation.tables import Schema, frame
from humanllm.llm.outputs import reject_detail
from humanllm.llm.progress import RunSummary
from humanllm.llm.runner import RunOutcome, arun_llm
from humanllm.runfolder import SourceCounts
from humanllm.stage import StageContext, StageResult

BATCH_ROWS = 2000  # rows from consecutive shards sent to the runner together


@dataclass(frozen=True)
class Drop:
    """A valid reply that still removes the record (e.g. a low quality label), or, with
    ``item_id``, one of the rows the record gives (e.g. one social QA triplet)."""

    reason: str
    detail: str = ""
    item_id: str | None = None


#: The runner, bound to the stage's backend, cache and settings: ``ask(items, render=, schema=,
#: step=, validate=)`` for a further request per item (``step`` names it in the cache and logs).
Ask = Callable[..., Awaitable[RunOutcome[Any]]]
#: A second pass over the first replies: ``(items, results by id, ask) -> results by id``.
Refine = Callable[[list[dict[str, Any]], dict[str, Any], Ask], Awaitable[dict[str, Any]]]


@dataclass
class PerRecordStage:
    input_folder: str
    output_folder: str
    template_name: str
    schema: type[BaseModel]
    stage_cfg: Callable[[StageContext], LLMStageConfig]
    fields: Callable[[dict[str, Any], str], dict[str, Any]]  # (row, source kind) -> template fields
    to_rows: Callable[
        [dict[str, Any], Any], Sequence[dict[str, Any] | Drop] | Drop
    ]  # (row, object) -> output rows (a Drop with item_id: that row is a reject)
    output_schema: Schema  # every shard of the output folder is written with it
    kinds: tuple[str, ...] | None = None  # source kinds that take part (None: all)
    validate: Callable[[Any, dict[str, Any]], None] | None = None
    refine: Refine | None = None  # a second request for some replies (social QA: leaks)
    # A record too long for one request: the template fields of each of its parts (used instead
    # of ``fields``), asked separately, and how their replies make the record's one object.
    parts: Callable[[dict[str, Any], str], list[dict[str, Any]]] | None = None
    join: Callable[[list[Any]], Any] | None = None
    subsample_input: bool = False  # apply curation.max_users_per_source / max_records_per_user
    extra: dict[str, Any] = field(default_factory=dict)  # stage-specific counters for _SUCCESS.json


def run_per_record(ctx: StageContext, spec: PerRecordStage) -> StageResult:
    if not has_input(ctx, spec.input_folder):
        return StageResult()
    scfg = spec.stage_cfg(ctx)
    tpl = template(spec.template_name)
    kinds = source_kinds(ctx)
    ccfg = ctx.cfg.curation
    result = StageResult()
    summaries: list[RunSummary] = []

    shards: list[tuple[str, str, pl.DataFrame]] = []
    for shard, source, df in iter_shards(ctx, spec.input_folder):
        if spec.kinds is not None and kinds.get(source) not in spec.kinds:
            continue
        shards.append((shard, source, df))
    if spec.subsample_input and (ccfg.max_users_per_source or ccfg.max_records_per_user):
        merged = (
            pl.concat(
                [df.with_columns(pl.lit(s).alias("_shard")) for s, _, df in shards],
                how="diagonal_relaxed",
            )
            if shards
            else None
        )
        if merged is not None:
            merged = subsample(merged, ccfg.max_users_per_source, ccfg.max_records_per_user)
            shards = [
                (s, src, merged.filter(pl.col("_shard") == s).drop("_shard"))
                for s, src, _ in shards
            ]

    batches: list[list[tuple[str, str, pl.DataFrame]]] = [[]]
    for entry in shards:
        if sum(d.height for _, _, d in batches[-1]) >= BATCH_ROWS:
            batches.append([])
        batches[-1].append(entry)

    async def main() -> None:
        async with llm_session(ctx, scfg.backend) as (backend, cache):
            for batch in batches:
                items: list[dict[str, Any]] = []
                n_parts: dict[str, int] = {}
                for _shard, source, df in batch:
                    for row in df.to_dicts():
                        kind = kinds.get(source, "jsonl")
                        key = f"{source}/{row['record_id']}"
                        base = {**row, "_source": source, "_kind": kind}
                        parts = spec.parts(base, kind) if spec.parts else [spec.fields(base, kind)]
                        n_parts[key] = len(parts)
                        for i, fields in enumerate(parts, start=1):
                            # one part keeps the record's id: its seeds and cache keys
                            pid = key if len(parts) == 1 else f"{key}#{i}/{len(parts)}"
                            items.append({**base, "_id": pid, "_fields": fields})
                if not items:
                    continue
                outcome = await arun_llm(
                    items,
                    render=lambda it: tpl.render(**it["_fields"]),
                    schema=spec.schema,
                    backend=backend,
                    cache=cache,
                    stage=ctx.stage,
                    prompt_version=prompt_key(tpl),
                    sampling=sampling(scfg),
                    runner_cfg=ctx.cfg.llm.runner,
                    validate=spec.validate,
                    id_field="_id",
                )
                summaries.append(outcome.summary)
                results = dict(outcome.results)
                if spec.refine is not None:

                    async def ask(
                        rows: list[dict[str, Any]], *, step: str, **kw: Any
                    ) -> RunOutcome[Any]:
                        more = await arun_llm(
                            rows,
                            backend=backend,
                            cache=cache,
                            stage=f"{ctx.stage}.{step}",
                            sampling=sampling(scfg),
                            runner_cfg=ctx.cfg.llm.runner,
                            id_field="_id",
                            **kw,
                        )
                        summaries.append(more.summary)
                        return more

                    results = await spec.refine(items, results, ask)
                rejects_by_id = {r.id: r for r in outcome.rejects}
                for key, n in n_parts.items():  # a record in parts: all of them, or a reject
                    if n == 1:
                        continue
                    ids = [f"{key}#{i}/{n}" for i in range(1, n + 1)]
                    failed = [i for i in ids if i not in results]
                    if failed:
                        first = rejects_by_id[failed[0]]
                        rejects_by_id[key] = dataclasses.replace(
                            first, error=f"part {failed[0].rsplit('#', 1)[1]}: {first.error}"
                        )
                    else:
                        assert spec.join is not None, "a stage with parts needs join"
                        results[key] = spec.join([results[i] for i in ids])
                for shard, source, df in batch:
                    counts = result.counts.setdefault(source, SourceCounts())
                    out_rows: list[dict[str, Any]] = []
                    rej: list[dict[str, str]] = []
                    for row in df.to_dicts():
                        rid = str(row["record_id"])
                        key = f"{source}/{rid}"
                        counts.records_in += 1
                        if key in rejects_by_id:
                            rej.append(
                                {
                                    "record_id": rid,
                                    "reason": rejects_by_id[key].reason,
                                    "detail": reject_detail(rejects_by_id[key]),
                                }
                            )
                            continue
                        made = spec.to_rows(row, results[key])
                        if isinstance(made, Drop):
                            rej.append(
                                {"record_id": rid, "reason": made.reason, "detail": made.detail}
                            )
                            continue
                        for entry in made:
                            if isinstance(entry, Drop):
                                rej.append(
                                    {
                                        "record_id": entry.item_id or rid,
                                        "reason": entry.reason,
                                        "detail": entry.detail,
                                    }
                                )
                            else:
                                out_rows.append(entry)
                    if out_rows:
                        ctx.run.write_shard(
                            spec.output_folder, shard, frame(out_rows, spec.output_schema)
                        )
                    counts.records_out += len(out_rows)
                    if rej:
                        counts.rejected += ctx.run.write_rejects(
                            ctx.stage, source, shard, pl.DataFrame(rej)
                        )

    run_async(main)
    result.extra["llm"] = merge_summaries(summaries)
    result.extra["prompt"] = prompt_key(tpl)
    result.extra["backend"] = scfg.backend
    result.extra.update(spec.extra)
    return result
