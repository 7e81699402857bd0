"""The Ray executor (``executor: {kind: ray}``): a stage's units as Ray tasks on a cluster.

The driver (the ``humanllm`` process) only schedules: it sends every unit without a marker as a
task, commits each unit's marker when its task returns, and records the stage as the local
executor does. A task rebuilds the stage's context from the config, removes what an earlier try
of its unit wrote, and runs the unit exactly as a local pool worker would; so the outputs do not
depend on the executor.

- The run folder must be on storage every node sees at the same path (a shared filesystem).
  Shards are written under temporary names and renamed into place, so no partial shard is ever
  visible; a retried unit writes the same names again.
- A worker process (or node) that dies mid-unit: Ray runs the task again (``max_retries``). A
  unit that raises stops the stage, as on one machine (its error is re-raised here).
- No SQLite file is written by two processes: each attempt of a unit has its own cache file,
  merged into the run's cache by the driver while no unit runs (:mod:`humanllm.llm.unit_cache`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from humanllm.llm.base import Backend
from humanllm.llm.unit_cache import open_attempt_cache, settle_unit_caches
from humanllm.runfolder import RunFolder
from humanllm.stage import StageContext, StageError
from humanllm.units import Unit, UnitResult, _run_one, remove_unit_files

#: A worker process's event loop and model backends, kept from one unit task to the next (a
#: backend's start — an HTTP client with its TLS context, a loaded model — is paid once per
#: worker, not once per unit; the local executor shares one per stage the same way).
_LOOP: asyncio.AbstractEventLoop | None = None
_BACKENDS: dict[str, Backend] = {}


def _worker_loop() -> asyncio.AbstractEventLoop:
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP


async def _worker_backend(backend_cfg: Any) -> Backend:
    """This worker's backend for ``backend_cfg``, made (and a pool of servers probed, as a local
    stage's session does) the first time."""
    from humanllm.llm.backends import make_backend
    from humanllm.llm.session import check_pool

    key = backend_cfg.model_dump_json()
    if key not in _BACKENDS:
        backend = make_backend(backend_cfg)
        try:
            await check_pool(backend)
        except BaseException:
            await backend.aclose()
            raise
        _BACKENDS[key] = backend
    return _BACKENDS[key]


def run_unit_attempt(
    cfg_json: str, root: str, stage: str, folder: str, unit: Unit
) -> tuple[str, UnitResult]:
    """The body of one unit's task (any node): one attempt of the unit, with its own cache file
    and this worker's backend. Returns the node it ran on and the unit's result."""
    from humanllm.config import RunConfig
    from humanllm.curation.common import backend_config
    from humanllm.executor import STAGES
    from humanllm.llm.session import LLMSession

    cfg = RunConfig.model_validate_json(cfg_json)
    ctx = StageContext(
        cfg=cfg, run=RunFolder(Path(root)), stage=stage, console=Console(stderr=True)
    )
    plan = STAGES[stage].units
    assert plan is not None, f"stage {stage!r} has no units"
    remove_unit_files(ctx.run, folder, stage, unit.id)  # what a killed try of this unit left

    async def main() -> UnitResult:
        if plan.llm is None:
            return await _run_one(ctx, plan, unit, None)
        name, sampling = plan.llm(ctx)
        backend = await _worker_backend(backend_config(ctx, name))
        cache = open_attempt_cache(root, stage, unit.id)
        try:  # no progress bar per worker: the driver reports units
            session = LLMSession(backend, cache, cfg.llm.runner, stage, sampling, progress=False)
            return await _run_one(ctx, plan, unit, session)
        finally:
            cache.close()

    result = _worker_loop().run_until_complete(main())
    return _node_id(), result


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def _connect(address: str) -> None:
    import ray

    if ray.is_initialized():  # already joined (a test's cluster, an earlier stage of this run)
        return
    try:
        ray.init(
            address=None if address == "local" else address,
            logging_level=logging.WARNING,
            configure_logging=True,
        )
    except ConnectionError as e:
        raise StageError(
            f"executor.address {address!r}: no Ray cluster to join ({e}); start one with "
            "`ray start --head` (and `ray start --address=<head>:6379` on the other nodes), or "
            "set executor.address: local to start Ray inside this run"
        ) from e


def run_in_ray(
    ctx: StageContext, folder: str, todo: list[Unit], commit: Callable[[Unit, UnitResult], None]
) -> None:
    """Run ``todo`` as Ray tasks; ``commit`` each unit as its task returns."""
    try:
        import ray
        from ray.exceptions import RayTaskError, TaskCancelledError
    except ImportError as e:
        raise StageError(
            "executor.kind: ray needs Ray: pip install -e '.[ray]' (on every node)"
        ) from e
    ex = ctx.cfg.executor
    _connect(ex.address)
    root = str(ctx.run.root.resolve())
    settle_unit_caches(root, checkpoint=True)  # what an interrupted run left: into the run's cache
    task = ray.remote(run_unit_attempt)
    opts = {"num_cpus": ex.num_cpus, "max_retries": ex.max_retries, "retry_exceptions": False}
    cfg_json = ctx.cfg.model_dump_json()
    pending: dict[Any, Unit] = {
        task.options(name=f"{ctx.stage}:{u.id}", **opts).remote(
            cfg_json, root, ctx.stage, folder, u
        ): u
        for u in todo
    }
    error: BaseException | None = None
    n = 0
    try:
        while pending:
            # every task that is done, at least once a second (not one wait per task: the
            # cost of a wait grows with the number of tasks still pending)
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=1.0)
            for ref in ready:
                unit = pending.pop(ref)
                try:
                    node, result = ray.get(ref)
                except TaskCancelledError:
                    continue
                except RayTaskError as e:  # the unit raised: stop, as the local executor does
                    cause = e.cause if isinstance(e.cause, BaseException) else e
                    error = error or cause
                    for other in pending:
                        ray.cancel(other)
                    continue
                except Exception as e:  # the worker died more often than max_retries allows
                    error = error or StageError(
                        f"stage {ctx.stage!r}: unit {unit.id} failed on the cluster after "
                        f"{ex.max_retries} retries: {e}"
                    )
                    for other in pending:
                        ray.cancel(other)
                    continue
                commit(unit, result)
                n += 1
                ctx.console.print(
                    f"[dim]  {ctx.stage}: unit {unit.id} done ({n}/{len(todo)}) "
                    f"on node {node[:12]}[/dim]"
                )
    finally:
        if pending:  # interrupted: let cancelled tasks stop before their caches are merged
            refs = list(pending)
            for ref in refs:
                ray.cancel(ref)
            ray.wait(refs, num_returns=len(refs), timeout=30)
        settle_unit_caches(root, ctx.stage)
    if error is not None:
        raise error
