"""Units of work: how a stage's work is cut, run, committed and resumed.

A stage with a :class:`UnitPlan` lists its units deterministically from its inputs (an input
shard, a bucket of users: never from the number of workers). A unit reads only its inputs and
writes only files named after its id — ``<folder>/<id>.parquet`` or ``<folder>/<id>--<part>.parquet``
and the same under ``rejects/<stage>-`` — so a unit run twice replaces what it wrote before (its
old files are removed first). When a unit returns, its completion marker
``<folder>/_units/<id>.json`` (the stage's fingerprint and the unit's counts) is written; the
stage's ``_SUCCESS.json`` is made from the results of all units. A killed stage, run again with
the same configuration, redoes only the units without a marker.

Where units run (``executor`` in the config) never changes what they write:

- ``workers: 1``: in this process, side by side, as many at once as keep the input rows in flight
  under ``executor.rows_in_flight``, all sharing one :class:`~humanllm.llm.session.LLMSession`
  (one model backend, one limiter, one progress bar for the stage);
- ``workers: N``: a pool of N processes, each unit opening its own session.
- ``kind: ray``: each unit a Ray task on a cluster (:mod:`humanllm.ray_executor`).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from humanllm.llm.base import Sampling
from humanllm.llm.progress import LiveProgress, SummarySum
from humanllm.llm.session import LLMSession
from humanllm.llm.unit_cache import settle_unit_caches
from humanllm.runfolder import REJECTS, RunFolder, SourceCounts, atomic_write_text
from humanllm.stage import StageContext, StageError, StageResult

UNITS_DIR = "_units"
_ID = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Unit:
    """One piece of a stage's work. ``id`` names its outputs and its marker; ``rows`` is its
    input size (for the in-flight window and the progress bar); ``params`` what else it needs,
    JSON-serialisable (e.g. the record ids a quick run keeps)."""

    id: str
    rows: int = 0
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class UnitResult:
    """What a unit did: counts per source and extras (numbers are summed over units, lists
    concatenated, mappings merged key by key, other values: the last unit's)."""

    counts: dict[str, SourceCounts] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def source(self, name: str) -> SourceCounts:
        return self.counts.setdefault(name, SourceCounts())

    def to_json(self) -> dict[str, Any]:
        return {"counts": {s: c.as_dict() for s, c in self.counts.items()}, "extra": self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnitResult:
        counts = {
            s: SourceCounts(records_in=c["in"], records_out=c["out"], rejected=c["rejected"])
            for s, c in data.get("counts", {}).items()
        }
        return cls(counts=counts, extra=dict(data.get("extra", {})))


@dataclass
class UnitContext:
    """What a unit's function gets: the stage's context, the unit, and the LLM session (None for
    a stage without a model)."""

    ctx: StageContext
    unit: Unit
    llm: LLMSession | None = None

    @property
    def llm_session(self) -> LLMSession:
        assert self.llm is not None, f"stage {self.ctx.stage!r} declared no LLM session"
        return self.llm


@dataclass(frozen=True)
class UnitPlan:
    """A stage's units. ``units(ctx)`` lists them; ``run(uctx)`` does one (a coroutine);
    ``llm(ctx)`` — for a stage that asks a model — names the backend and the sampling of its
    session; ``finish(ctx, merged)`` may add stage-wide extras. The functions must be
    module-level: a process pool (or a cluster) imports them by name."""

    units: Callable[[StageContext], list[Unit]]
    run: Callable[[UnitContext], Awaitable[UnitResult]]
    llm: Callable[[StageContext], tuple[str, Sampling]] | None = None
    finish: Callable[[StageContext, StageResult], StageResult] | None = None


def merge_extra(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for k, v in extra.items():
        old = into.get(k)
        if old is None:
            into[k] = json.loads(json.dumps(v, default=str))
        elif isinstance(v, bool) or isinstance(old, bool):
            into[k] = v
        elif isinstance(v, int | float) and isinstance(old, int | float):
            into[k] = round(old + v, 6)
        elif isinstance(v, dict) and isinstance(old, dict):
            merge_extra(old, v)
        elif isinstance(v, list) and isinstance(old, list):
            old.extend(v)
        else:
            into[k] = v


def merge_results(results: Sequence[UnitResult]) -> StageResult:
    out = StageResult()
    for r in results:
        for src, c in r.counts.items():
            acc = out.counts.setdefault(src, SourceCounts())
            acc.records_in += c.records_in
            acc.records_out += c.records_out
            acc.rejected += c.rejected
        merge_extra(out.extra, r.extra)
    return out


# --- markers and a unit's files --------------------------------------------------------------
def marker_path(run: RunFolder, folder: str, unit_id: str) -> Path:
    return run.stage_dir(folder) / UNITS_DIR / f"{unit_id}.json"


def finished_unit(path: Path, fingerprint: str) -> UnitResult | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return None
    return UnitResult.from_json(data)


def mark_unit(path: Path, fingerprint: str, unit: Unit, result: UnitResult) -> None:
    body = {"unit": unit.id, "fingerprint": fingerprint, **result.to_json()}
    atomic_write_text(json.dumps(body, sort_keys=True, default=str) + "\n", path)


def remove_unit_files(run: RunFolder, folder: str, stage: str, unit_id: str) -> None:
    """Remove what an earlier, unfinished try of the unit wrote."""
    for d, stem in ((run.stage_dir(folder), unit_id), (run.root / REJECTS, f"{stage}-{unit_id}")):
        if not d.is_dir():
            continue
        for p in (d / f"{stem}.parquet", *d.glob(f"{stem}--*.parquet")):
            p.unlink(missing_ok=True)


def _check_ids(stage: str, units: list[Unit]) -> None:
    ids = [u.id for u in units]
    bad = [i for i in ids if not _ID.fullmatch(i) or "--" in i]
    if bad:
        raise StageError(
            f"stage {stage!r}: unit ids must be file-name safe without '--': {bad[:3]}"
        )
    if len(set(ids)) != len(ids):
        raise StageError(f"stage {stage!r}: duplicate unit ids, e.g. {sorted(ids)[:5]}")


# --- running ------------------------------------------------------------------------------------
def _with_llm(result: UnitResult, session: LLMSession | None) -> UnitResult:
    if session is not None and session.summaries:
        from humanllm.curation.common import merge_summaries

        merge_extra(result.extra, {"llm": merge_summaries(session.summaries)})
    return result


async def _run_one(
    ctx: StageContext, plan: UnitPlan, unit: Unit, session: LLMSession | None
) -> UnitResult:
    view = session.for_unit(unit.rows) if session is not None else None
    try:
        result = await plan.run(UnitContext(ctx, unit, view))
    finally:
        if view is not None:
            view.close_unit()
    return _with_llm(result, view)


def _session(ctx: StageContext, plan: UnitPlan) -> Any:
    """The stage's LLM session as an async context manager (None inside when it has none)."""
    from contextlib import asynccontextmanager

    from humanllm.curation.common import backend_config

    @asynccontextmanager
    async def opened():  # type: ignore[no-untyped-def]
        if plan.llm is None:
            yield None
            return
        name, sampling = plan.llm(ctx)
        async with LLMSession.open(
            backend_config(ctx, name),
            ctx.run.root,
            runner=ctx.cfg.llm.runner,
            stage=ctx.stage,
            sampling=sampling,
        ) as session:
            yield session

    return opened()


def run_unit_in_child(cfg_json: str, root: str, stage: str, unit: Unit) -> UnitResult:
    """Run one unit in a fresh process (a pool worker, a cluster task): rebuild the stage's
    context from the config, open the stage's session for this unit, run it."""
    from humanllm.config import RunConfig
    from humanllm.executor import STAGES

    cfg = RunConfig.model_validate_json(cfg_json)
    ctx = StageContext(
        cfg=cfg, run=RunFolder(Path(root)), stage=stage, console=Console(stderr=True)
    )
    plan = STAGES[stage].units
    assert plan is not None, f"stage {stage!r} has no units"

    async def main() -> UnitResult:
        async with _session(ctx, plan) as session:
            if session is not None:
                session.progress = False  # the driver reports units; no bar per worker
            return await _run_one(ctx, plan, unit, session)

    return asyncio.run(main())


def run_units(ctx: StageContext, plan: UnitPlan, folder: str, fingerprint: str) -> StageResult:
    """Run the units of a stage that have no marker for ``fingerprint``; merge every unit's
    result (finished earlier or now), in unit order."""
    units = plan.units(ctx)
    _check_ids(ctx.stage, units)
    done: dict[str, UnitResult] = {}
    for u in units:
        found = finished_unit(marker_path(ctx.run, folder, u.id), fingerprint)
        if found is not None:
            done[u.id] = found
    todo = [u for u in units if u.id not in done]
    if done and todo:
        ctx.console.print(
            f"[dim]  {len(done)} of {len(units)} units already done; running {len(todo)}[/dim]"
        )

    def commit(unit: Unit, result: UnitResult) -> None:
        mark_unit(marker_path(ctx.run, folder, unit.id), fingerprint, unit, result)
        done[unit.id] = result

    for u in todo:
        remove_unit_files(ctx.run, folder, ctx.stage, u.id)
    settle_unit_caches(ctx.run.root)  # unit cache files a cluster run left: into the run's cache
    workers = ctx.cfg.executor.workers
    if todo and ctx.cfg.executor.kind == "ray":
        from humanllm.ray_executor import run_in_ray

        run_in_ray(ctx, folder, todo, commit)
    elif todo and (workers <= 1 or len(todo) == 1):
        asyncio.run(_in_process(ctx, plan, todo, commit, len(units) - len(todo), len(units)))
    elif todo:
        _in_pool(ctx, todo, commit, workers)
    merged = merge_results([done[u.id] for u in units])
    merged.extra["units"] = len(units)
    return plan.finish(ctx, merged) if plan.finish is not None else merged


async def _in_process(
    ctx: StageContext,
    plan: UnitPlan,
    todo: list[Unit],
    commit: Callable[[Unit, UnitResult], None],
    done_before: int,
    total_units: int,
) -> None:
    """Units side by side in this loop: start the next while the rows in flight allow it."""
    budget = ctx.cfg.executor.rows_in_flight
    bar = LiveProgress(ctx.stage, sum(u.rows for u in todo), SummarySum(), console=ctx.console)
    async with _session(ctx, plan) as session:
        if session is not None:
            session.bar = bar
        with bar:
            finished = done_before
            bar.units(finished, total_units)
            running: dict[asyncio.Task[UnitResult], Unit] = {}
            queue = list(todo)
            error: BaseException | None = None
            while queue or running:
                in_flight = sum(u.rows for u in running.values())
                while queue and error is None and (not running or in_flight < budget):
                    unit = queue.pop(0)
                    running[asyncio.create_task(_run_one(ctx, plan, unit, session))] = unit
                    in_flight += unit.rows
                if not running:
                    break
                over, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in over:
                    unit = running.pop(task)
                    if task.exception() is not None:
                        error = error or task.exception()  # finish what runs, start nothing new
                        continue
                    commit(unit, task.result())
                    finished += 1
                    bar.units(finished, total_units)
            if error is not None:
                raise error


_POOL: dict[int, ProcessPoolExecutor] = {}


def pool(workers: int) -> ProcessPoolExecutor:
    """The process pool of this run, started once and kept for the next stages (a worker's
    start-up — interpreter, libraries — is paid once per run, not per stage)."""
    if workers not in _POOL:
        shutdown_pool()
        spawn = multiprocessing.get_context("spawn")  # no forked threads (llama.cpp, the cache)
        _POOL[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=spawn)
    return _POOL[workers]


def shutdown_pool() -> None:
    for p in _POOL.values():
        p.shutdown(wait=True, cancel_futures=True)
    _POOL.clear()


def _in_pool(
    ctx: StageContext, todo: list[Unit], commit: Callable[[Unit, UnitResult], None], workers: int
) -> None:
    cfg_json = ctx.cfg.model_dump_json()
    executor = pool(workers)
    pending = {
        executor.submit(run_unit_in_child, cfg_json, str(ctx.run.root), ctx.stage, u): u
        for u in todo
    }
    n, error = 0, None
    while pending:
        over, _ = wait(pending, return_when=FIRST_COMPLETED)
        for fut in over:
            unit = pending.pop(fut)
            if fut.cancelled():
                continue
            if fut.exception() is not None:
                error = error or fut.exception()
                for other in pending:
                    other.cancel()
                continue
            commit(unit, fut.result())
            n += 1
            ctx.console.print(f"[dim]  {ctx.stage}: unit {unit.id} done ({n}/{len(todo)})[/dim]")
    if error is not None:
        if isinstance(error, BrokenProcessPool):
            shutdown_pool()
        raise error
