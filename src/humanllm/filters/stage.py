"""Stage ``filter``: the rule filters of each source, then the per-user minimum, over ``records/``.

Kept records go to ``filtered/<source>-<bucket>.parquet`` (bucket = hash of user id, so later
per-user stages can shard by bucket); every dropped record goes to
``rejects/filter-<source>.parquet`` with the rule.

Memory is bounded by one unit (a ``records/`` shard, or a batch of the fused Reddit path), one
user bucket, and compact id columns, never by a source's text, in three passes per source:

1. per unit (:mod:`humanllm.filters.units`): the source's row rules; a small ``flags`` file of
   rule codes and id hashes is left in ``filtered/.work/``;
2. once (:mod:`humanllm.filters.decide`): the rules that count across the source (duplicate
   record ids, the Amazon k-core, the per-user minimum) over those columns only;
3. per unit again: the final verdicts, rejects and kept rows per bucket, merged at the end.

The outputs are those of filtering each source as one frame in memory (same records, shards,
order, rejects and reasons): ``tests/test_filter_streaming.py`` holds that reference.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl

from humanllm.filters import RuleSet
from humanllm.filters.config import FilterConfig
from humanllm.filters.decide import by_unit, decide
from humanllm.filters.units import (
    Codes,
    Unit,
    UnitOutput,
    finish_unit,
    fused_units,
    merge_outputs,
    staged_units,
)
from humanllm.runfolder import SourceCounts
from humanllm.sources.config import SourceConfig
from humanllm.sources.kind import SourceKind, get_source_kind, kind_of
from humanllm.stage import StageContext, StageError, StageResult

WORK = ".work"


def rules_of(kind: SourceKind) -> RuleSet:
    """The rule set a kind runs on each ``records/`` shard."""
    return kind.flag()


def is_fused(src: SourceConfig, fcfg: FilterConfig) -> bool:
    """The source is filtered straight from its raw files (its kind has a fused read, on)."""
    own = get_source_kind(src.kind)
    return own.fused is not None and bool(getattr(fcfg.group(own.name), "fused", False))


def _units(ctx: StageContext, src: SourceConfig, work_dir: Path, codes: Codes) -> list[Unit]:
    fcfg = ctx.cfg.filter
    if is_fused(src, fcfg):
        read = get_source_kind(src.kind).fused_reader()
        return list(fused_units(read, src, fcfg, work_dir, codes))
    try:
        kind = kind_of(src)
        rules = rules_of(kind)
    except (KeyError, ImportError, AttributeError) as e:
        raise StageError(f"no rule set for source {src.source_name!r}: {e}") from e
    own = re.compile(rf"{re.escape(src.source_name)}-\d+\.parquet")
    shards = [p for p in ctx.run.shards("records", f"{src.source_name}-") if own.fullmatch(p.name)]
    early = kind.first_reasons()
    return list(
        staged_units(shards, rules, fcfg, src, work_dir, codes, early=early, item=kind.item_kcore)
    )


def _filter_source(ctx: StageContext, src: SourceConfig, counts: SourceCounts) -> dict[str, int]:
    """The three passes over one source; returns the id hash collisions met."""
    fcfg, name = ctx.cfg.filter, src.source_name
    work = ctx.run.stage_dir("filtered") / WORK / name
    shutil.rmtree(work, ignore_errors=True)
    codes = Codes()
    try:
        units = _units(ctx, src, work, codes)
        rows = sum(u.rows for u in units)
        if rows == 0:
            ctx.console.print(f"[yellow]filter {name}: ingest produced no records[/yellow]")
            return {}
        kcore = kind_of(src).item_kcore
        flags = pl.scan_parquet([u.flags for u in units])
        decisions = decide(flags, rows, fcfg, codes.index, kcore=kcore)
        changes = by_unit(decisions.changes, len(units))
        short = by_unit(decisions.short_rows, len(units))
        fused = is_fused(src, fcfg)
        outputs: list[UnitOutput] = []
        for unit in units:
            outputs.append(
                finish_unit(
                    unit,
                    changes[unit.index],
                    short[unit.index],
                    codes,
                    stage=ctx.stage,
                    source=name,
                    detail=fused or kcore,
                    buckets=fcfg.user_buckets,
                    work=work,
                )
            )
        merge_outputs(ctx.run, ctx.stage, name, outputs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts.records_in = rows
    counts.rejected = sum(o.rejected for o in outputs)
    counts.records_out = sum(o.kept for o in outputs)
    ctx.console.print(
        f"  {name}: {counts.records_in:,} in → {counts.records_out:,} kept, {counts.rejected:,} rejected"
    )
    return {k: v for k, v in decisions.collisions.items() if v}


def run_filter(ctx: StageContext) -> StageResult:
    result = StageResult()
    collisions: dict[str, dict[str, int]] = {}
    for src in ctx.cfg.sources:
        counts = SourceCounts()
        result.counts[src.source_name] = counts
        found = _filter_source(ctx, src, counts)
        if found:
            collisions[src.source_name] = found
            ctx.console.print(
                f"  {src.source_name}: 64-bit id hash collisions {found} (re-keyed; exact)"
            )
    shutil.rmtree(ctx.run.stage_dir("filtered") / WORK, ignore_errors=True)
    if collisions:
        result.extra["collisions"] = collisions
    return result
