"""The shape shared by the per-record LLM stages (clean, label, scenarios, social_qa): rows of an
input folder -> one request each -> validated objects -> rows of an output folder, with every
record that does not come out written to ``rejects/`` with a reason.

A stage's unit is one input shard: it reads that shard only and writes the output shard and the
rejects of the same name (:mod:`humanllm.units`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from pydantic import BaseModel

from humanllm.curation.common import (
    has_input,
    prompt_key,
    source_kinds,
    stage_llm,
    subsample,
    template,
)
from humanllm.curation.config import LLMStageConfig
from humanllm.curation.tables import Schema, frame
from humanllm.llm.base import Sampling
from humanllm.llm.outputs import reject_detail
from humanllm.llm.runner import RunOutcome
from humanllm.stage import StageContext, StageResult
from humanllm.units import Unit, UnitContext, UnitPlan, UnitResult


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
    # Stage-specific counters of one unit for _SUCCESS.json (summed over units), read when the
    # unit is done: the spec is made anew for each unit, so closures count that unit only.
    report: Callable[[], dict[str, Any]] | None = None


SpecFactory = Callable[[StageContext], PerRecordStage]


def per_record_plan(make_spec: SpecFactory) -> UnitPlan:
    """The units of a per-record stage whose spec ``make_spec(ctx)`` gives."""

    def units(ctx: StageContext) -> list[Unit]:
        return _units(ctx, make_spec(ctx))

    async def run(uctx: UnitContext) -> UnitResult:
        return await _run_unit(uctx, make_spec(uctx.ctx))

    def llm(ctx: StageContext) -> tuple[str, Sampling]:
        return stage_llm(make_spec(ctx).stage_cfg(ctx))

    def finish(ctx: StageContext, result: StageResult) -> StageResult:
        spec = make_spec(ctx)
        result.extra["prompt"] = prompt_key(template(spec.template_name))
        result.extra["backend"] = spec.stage_cfg(ctx).backend
        result.extra.setdefault("llm", {})
        if spec.report is not None:
            for key, value in spec.report().items():  # every counter, even where no unit ran
                result.extra.setdefault(key, value)
        return result

    return UnitPlan(units=units, run=run, llm=llm, finish=finish)


def _units(ctx: StageContext, spec: PerRecordStage) -> list[Unit]:
    """One unit per input shard of a source that takes part (a shard of more than
    ``executor.records_per_unit`` rows: one unit per row range of it, ``<shard>.r<i>``); a quick
    run (subsampled input) passes each unit the record ids it keeps, chosen across all shards."""
    if not has_input(ctx, spec.input_folder):
        return []
    kinds = source_kinds(ctx)
    paths = [
        p
        for p in ctx.run.shards(spec.input_folder)
        if spec.kinds is None or kinds.get(shard_source(p.stem)) in spec.kinds
    ]
    ccfg = ctx.cfg.curation
    keep: dict[str, list[str]] | None = None
    if paths and spec.subsample_input and (ccfg.max_users_per_source or ccfg.max_records_per_user):
        cols = ["source", "user_id", "created_at", "record_id"]
        keys = pl.concat(
            [
                pl.scan_parquet(p).select(cols).with_columns(pl.lit(p.stem).alias("_shard"))
                for p in paths
            ],
            how="diagonal_relaxed",
        ).collect()
        kept = subsample(keys, ccfg.max_users_per_source, ccfg.max_records_per_user)
        keep = {p.stem: [] for p in paths}
        for shard, rid in kept.select("_shard", "record_id").iter_rows():
            keep[shard].append(str(rid))
    out = []
    size = ctx.cfg.executor.records_per_unit
    for p in paths:
        if keep is not None:
            out.append(Unit(p.stem, rows=len(keep[p.stem]), params={"keep": sorted(keep[p.stem])}))
            continue
        n = pl.scan_parquet(p).select(pl.len()).collect().item()
        if n <= size:
            out.append(Unit(p.stem, rows=n))
            continue
        for i, start in enumerate(range(0, n, size)):  # a big shard: row ranges of it
            rows = min(size, n - start)
            params = {"shard": p.stem, "offset": start, "length": rows}
            out.append(Unit(f"{p.stem}.r{i:05d}", rows=rows, params=params))
    return out


def shard_source(stem: str) -> str:
    """The source a shard of a per-source folder belongs to: ``<source>-<number>``."""
    return stem.rsplit("-", 1)[0]


async def _run_unit(uctx: UnitContext, spec: PerRecordStage) -> UnitResult:
    ctx, unit, llm = uctx.ctx, uctx.unit, uctx.llm_session
    shard, source = unit.id, shard_source(unit.id)
    path = ctx.run.stage_dir(spec.input_folder) / f"{unit.params.get('shard', shard)}.parquet"
    if "offset" in unit.params:  # one row range of a shard bigger than a unit
        df = pl.scan_parquet(path).slice(unit.params["offset"], unit.params["length"]).collect()
    else:
        df = pl.read_parquet(path)
    if "keep" in unit.params:
        df = df.filter(pl.col("record_id").cast(pl.String).is_in(unit.params["keep"]))
    result = UnitResult()
    counts = result.source(source)
    kind = source_kinds(ctx).get(source, "jsonl")
    tpl = template(spec.template_name)
    rows = df.to_dicts()
    items: list[dict[str, Any]] = []
    n_parts: dict[str, int] = {}
    for row in rows:
        key = f"{source}/{row['record_id']}"
        base = {**row, "_source": source, "_kind": kind}
        parts = spec.parts(base, kind) if spec.parts else [spec.fields(base, kind)]
        n_parts[key] = len(parts)
        for i, fields in enumerate(parts, start=1):
            # one part keeps the record's id: its seeds and cache keys
            pid = key if len(parts) == 1 else f"{key}#{i}/{len(parts)}"
            items.append({**base, "_id": pid, "_fields": fields})
    if items:
        outcome = await llm.ask(
            items,
            render=lambda it: tpl.render(**it["_fields"]),
            schema=spec.schema,
            prompt_version=prompt_key(tpl),
            validate=spec.validate,
        )
        results = dict(outcome.results)
        if spec.refine is not None:

            async def ask(batch: list[dict[str, Any]], *, step: str, **kw: Any) -> RunOutcome[Any]:
                return await llm.ask(batch, step=step, **kw)

            results = await spec.refine(items, results, ask)
        rejects_by_id = {r.id: r for r in outcome.rejects}
    else:
        results, rejects_by_id = {}, {}
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
    out_rows: list[dict[str, Any]] = []
    rej: list[dict[str, str]] = []
    for row in rows:
        rid = str(row["record_id"])
        key = f"{source}/{rid}"
        counts.records_in += 1
        if key in rejects_by_id:
            r = rejects_by_id[key]
            rej.append({"record_id": rid, "reason": r.reason, "detail": reject_detail(r)})
            continue
        made = spec.to_rows(row, results[key])
        if isinstance(made, Drop):
            rej.append({"record_id": rid, "reason": made.reason, "detail": made.detail})
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
        ctx.run.write_shard(spec.output_folder, shard, frame(out_rows, spec.output_schema))
    counts.records_out += len(out_rows)
    if rej:
        counts.rejected += ctx.run.write_rejects(ctx.stage, source, shard, pl.DataFrame(rej))
    if spec.report is not None:
        result.extra.update(spec.report())
    return result
