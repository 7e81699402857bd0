"""The runner every LLM stage uses: rows -> rendered prompts -> requests -> validated objects.

Usage in a stage::

    tpl = package_template("humanllm.curation", "prompts/label.v1.txt")
    with RequestCache.in_run(run.root) as cache:
        outcome = run_llm(
            rows,                                   # dicts with a stable "record_id"
            id_field="record_id",
            render=lambda r: tpl.render(platform=r["source"], record=r["text"]),
            schema=Label,                           # a pydantic model
            backend=backend, cache=cache, stage="label", prompt_version=tpl.id,
            sampling=Sampling(temperature=0.2, max_tokens=512),
            runner_cfg=cfg.llm.runner,
        )
    write_outcome(run, outcome, folder="labeled", stage="label", shard="part-00000", source="reddit")

What it guarantees:

- every input id ends in ``results`` or in ``rejects`` (checked before returning), in input order;
- each request is asked once per (record, attempt): seeds come from (record id, stage, attempt),
  replies, failures included, are cached, so a finished run re-run asks nothing and reproduces
  the same results and rejects, and an interrupted run re-asks only what was not committed;
- transient failures (429/5xx/time-outs) are retried with exponential backoff and jitter,
  honouring ``Retry-After``; one that outlasts the retries is a reject that is never cached, and
  when such rejects exceed ``max_transient_reject_share`` of the items the call raises
  :class:`~humanllm.llm.base.OutageError` (the stage stops unfinished; a re-run asks them again);
  an invalid, truncated or failing-``validate`` reply is re-asked with
  the next seed up to ``max_invalid_retries`` times, then becomes a reject with the raw text.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Unpack

from pydantic import BaseModel

from humanllm.llm.base import Backend, OutageError
from humanllm.llm.config import RunnerConfig
from humanllm.llm.engine import Engine, LLMCall
from humanllm.llm.progress import LiveProgress, RunSummary
from humanllm.llm.ratelimit import RateLimiter
from humanllm.llm.replies import Reject

__all__ = ["Reject", "RunOutcome", "RunSummary", "arun_llm", "run_llm"]

T = TypeVar("T", bound=BaseModel)
Row = Mapping[str, Any]  # an input row: a dict with a stable id


@dataclass(repr=False)
class RunOutcome(Generic[T]):
    results: dict[str, T]  # id -> validated object, in input order
    rejects: list[Reject]  # in input order
    summary: RunSummary

    def __repr__(self) -> str:  # short: asyncio may repr a finished task's result
        return f"RunOutcome(results={len(self.results)}, rejects={len(self.rejects)})"


async def arun_llm(
    items: Iterable[Row],
    *,
    id_field: str = "id",
    progress: bool = True,
    limiter: RateLimiter | None = None,
    bar: LiveProgress | None = None,
    **call: Unpack[LLMCall[T]],
) -> RunOutcome[T]:
    """Async form of :func:`run_llm` (use it inside a running event loop).

    ``limiter`` and ``bar``: a stage's shared concurrency/rate limits and progress bar, when
    several calls run side by side (:class:`~humanllm.llm.session.LLMSession`); by default the
    call has its own."""
    stage = call["stage"]
    rows = list(items)
    ids = [str(r[id_field]) for r in rows]
    if len(set(ids)) != len(ids):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)[:5]
        raise ValueError(f"stage {stage!r}: duplicate {id_field} values in the input, e.g. {dupes}")
    engine: Engine[T] = Engine(limiter=limiter, **call)
    summary = engine.summary
    summary.items = len(rows)
    own = LiveProgress(stage, len(rows), summary, enabled=progress and bar is None)
    with own:
        engine.progress = bar or own
        if bar is not None:
            bar.watch(summary)
        try:
            await engine.run(rows, ids)
        finally:
            await asyncio.to_thread(engine.cache.flush, 60.0)
    summary.wall_s = summary.elapsed()
    results = {ids[i]: engine.results[i] for i in range(len(rows)) if i in engine.results}
    rejects = [engine.rejects[i] for i in range(len(rows)) if i in engine.rejects]
    lost = [ids[i] for i in range(len(rows)) if (i in engine.results) == (i in engine.rejects)]
    if lost:  # every id must end in exactly one of results / rejects
        raise RuntimeError(
            f"stage {stage!r}: runner lost track of {len(lost)} records, e.g. {lost[:5]}"
        )
    _check_outage(stage, engine.backend, engine.transient_errors, len(rows), engine.cfg)
    return RunOutcome(results=results, rejects=rejects, summary=summary)


def _check_outage(
    stage: str, backend: Backend, errors: list[str], n_items: int, cfg: RunnerConfig
) -> None:
    """Raise :class:`OutageError` when more records failed on transient errors than allowed."""
    if not errors or len(errors) <= cfg.max_transient_reject_share * n_items:
        return
    where = getattr(backend, "endpoint", None)
    model = backend.model_id + (f" at {where}" if where else "")
    common = Counter(errors).most_common(1)[0][0]
    raise OutageError(
        f"stage {stage!r}: {len(errors)} of {n_items} records failed on transient errors after "
        f"every retry (allowed: {cfg.max_transient_reject_share:.0%}, "
        f"llm.runner.max_transient_reject_share) on backend {model}; e.g. {common}. The stage is "
        "not marked finished: answers so far are cached, so running it again once the server "
        "answers asks only the failed records."
    )


def run_llm(
    items: Iterable[Row],
    *,
    id_field: str = "id",
    progress: bool = True,
    **call: Unpack[LLMCall[T]],
) -> RunOutcome[T]:
    """Run an LLM stage over ``items`` from sync code; the keywords are those of
    :class:`~humanllm.llm.engine.LLMCall`.

    ``render(item)`` gives the messages (usually ``template.render(...)``); ``schema`` is the
    pydantic model every reply must fit; ``validate(obj, item)`` may raise to reject a reply that
    fits the schema but is still wrong; ``prompt_version`` (``template.id``) goes into the cache
    key; ``retry_rejects`` re-asks records whose cached outcome is a reject.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun_llm(items, id_field=id_field, progress=progress, **call))
    raise RuntimeError("run_llm() inside a running event loop: use `await arun_llm(...)` instead")
