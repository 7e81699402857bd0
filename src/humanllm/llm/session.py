"""One LLM session per stage run: the backend, the run's request cache, the runner settings and
the stage's sampling, opened once and shared by every unit the process runs.

Units that run side by side in one process share the session's limiter (so
``llm.runner.max_concurrency`` bounds the stage, not each unit) and its progress bar (one bar for
the whole stage: units and requests done of all, tokens/s, ETA, cost)::

    async with LLMSession.open(cfg, run.root, backend_name="default", stage="label",
                               sampling=Sampling(max_tokens=256)) as llm:
        outcome = await llm.ask(rows, render=..., schema=Label, prompt_version=key)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from humanllm.llm.backends import make_backend
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.engine import Messages
from humanllm.llm.progress import LiveProgress, RunSummary
from humanllm.llm.ratelimit import RateLimiter
from humanllm.llm.runner import Row, RunOutcome, arun_llm

T = TypeVar("T", bound=BaseModel)


async def check_pool(backend: Backend) -> None:
    """A pool of model servers (an ``openai`` backend with several ``base_urls``) is asked for
    ``/models`` before the stage starts: none answering stops it here with every URL and its
    error (:class:`~humanllm.llm.base.OutageError`). One server is not probed (it fails, and is
    reported, on the first request, as before)."""
    pool = getattr(backend, "pool", None)
    if pool is not None and len(getattr(pool, "urls", ())) > 1:
        await backend.check()  # type: ignore[attr-defined]


@dataclass
class LLMSession:
    backend: Backend
    cache: RequestCache
    runner: RunnerConfig
    stage: str
    sampling: Sampling = field(default_factory=Sampling)
    bar: LiveProgress | None = None
    summaries: list[RunSummary] = field(default_factory=list)
    progress: bool = True  # a bar per call when there is no stage bar
    estimate: int = 0  # a unit's size in the stage bar's total, replaced by its first requests
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        r = self.runner
        self.limiter = RateLimiter(r.max_concurrency, r.requests_per_minute, r.tokens_per_minute)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        backend_cfg: Any,
        run_root: str | Path,
        *,
        runner: RunnerConfig,
        stage: str,
        sampling: Sampling | None = None,
    ) -> AsyncIterator[LLMSession]:
        """Make the backend from its config and open the run's cache; both are closed at exit."""
        backend: Backend = make_backend(backend_cfg)
        await check_pool(backend)
        cache = RequestCache.in_run(run_root)
        try:
            yield cls(backend, cache, runner, stage, sampling or Sampling())
        finally:
            try:
                await backend.aclose()
            finally:
                cache.close()

    async def ask(
        self,
        items: Iterable[Row],
        *,
        render: Callable[[Any], Messages],
        schema: type[T],
        prompt_version: str,
        step: str | None = None,
        sampling: Sampling | None = None,
        validate: Callable[[T, Any], None] | None = None,
        id_field: str = "_id",
    ) -> RunOutcome[T]:
        """One runner call in this session (``step`` names a further request per item in the
        cache keys and logs, e.g. ``refine``). Its summary is kept for the unit's result."""
        items = list(items)
        if self.bar is not None:
            self.bar.grow(len(items) - self.estimate)
            self.estimate = 0
        outcome = await arun_llm(
            items,
            render=render,
            schema=schema,
            backend=self.backend,
            cache=self.cache,
            stage=f"{self.stage}.{step}" if step else self.stage,
            prompt_version=prompt_version,
            sampling=sampling or self.sampling,
            runner_cfg=self.runner,
            validate=validate,
            id_field=id_field,
            limiter=self.limiter,
            bar=self.bar,
            progress=self.progress and self.bar is None,
        )
        self.summaries.append(outcome.summary)
        return outcome

    def for_unit(self, estimate: int = 0) -> LLMSession:
        """A view of the session with its own list of summaries (one unit's counters);
        ``estimate``: the unit's size counted in the stage bar's total until it asks."""
        view = replace(self, summaries=[], estimate=estimate)
        view.limiter = self.limiter
        return view

    def close_unit(self) -> None:
        """The unit is done: what it did not ask leaves the stage bar's total."""
        if self.bar is not None and self.estimate:
            self.bar.grow(-self.estimate)
            self.estimate = 0
