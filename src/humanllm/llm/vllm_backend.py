"""The ``vllm`` backend: an offline ``vllm.LLM`` engine in this process, no server to start.

Concurrent requests -- the runner sends up to ``llm.runner.max_concurrency`` at once -- are
collected into one batch (those that arrive while the engine is busy, up to ``max_batch``) and
given to the engine in one ``LLM.chat`` call, which schedules them together (continuous batching
inside vLLM); the call runs in a worker thread, so the event loop keeps collecting the next batch.

Each request becomes a chat (OpenAI-style messages) and its own ``SamplingParams``: temperature,
top-p, max_tokens, penalties and the request's seed (the runner's per-record seed, so replies are
reproducible), ``n`` for :meth:`VLLMBackend.chat_n`, and the request's JSON schema as structured
output (``structured_outputs=StructuredOutputsParams(json=...)`` in current vLLM,
``guided_decoding=GuidedDecodingParams(json=...)`` before it: :func:`vllm_api` detects which).
vLLM renders the chat template itself (message text is tokenized with special tokens parsed,
unlike the ``transformers`` backend's :mod:`humanllm.llm.chat_tokens`).

Replies: ``finish_reason`` is passed on (``"length"`` is what the runner treats as truncated),
usage is the prompt's and the reply's token counts. Errors of an engine call:

- ``ValueError``/``TypeError`` (vLLM's validation errors: prompt longer than ``max_model_len``,
  bad parameters) are the request's fault -> :class:`PermanentError`. In a batch of several the
  requests are then run one by one, so only the bad one fails;
- CUDA out of memory -> :class:`TransientError` (the runner retries with back-off) and later
  batches are half as large (down to 1);
- a dead engine (``EngineDeadError``, its worker process gone) -> :class:`TransientError`, and the
  engine is dropped and built again on the next request; if it cannot be built, that too is
  transient, so a stage whose engine is gone for good stops unfinished (``OutageError``) instead
  of caching rejects;
- anything else -> :class:`TransientError`; a reply aborted by the engine likewise.

Options are scored by log-likelihood (:class:`~humanllm.llm.base.Scorer`) from the engine's
prompt log-probabilities: each option is appended to the chat prompt's ids and the log-probs of
its own tokens summed.

The engine and the mapping around it are :mod:`humanllm.llm.vllm_engine`, which holds the
GPU-only lines (``_make_engine`` and the import in ``vllm_api``; never run in this project's
CI). Everything else is tested on the CPU against a fake engine with ``vllm.LLM``'s interface
(tests/llm/test_vllm_backend.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from humanllm.llm.base import ChatRequest, ChatResponse, PermanentError, TransientError
from humanllm.llm.chat_tokens import Chat
from humanllm.llm.config import VLLMBackendConfig
from humanllm.llm.vllm_engine import Answer, EngineWorker, VLLMApi, _make_engine


@dataclass
class _Job:
    request: ChatRequest
    n: int
    future: asyncio.Future[list[ChatResponse]]
    loop: asyncio.AbstractEventLoop = field(repr=False)


class LocalEngine:
    """An :class:`EngineWorker` in this process; its calls run in a worker thread."""

    def __init__(self, worker: EngineWorker) -> None:
        self.worker = worker

    @property
    def batch_cap(self) -> int:
        return self.worker.batch_cap

    async def answer(self, jobs: list[tuple[ChatRequest, int]]) -> list[Answer]:
        return await asyncio.to_thread(self.worker.answer, jobs)

    def loglikelihoods(self, messages: Chat, options: list[str]) -> list[float]:
        return self.worker.loglikelihoods(messages, options)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.worker.close)


class EngineHandle(Protocol):
    """Where a batch goes: an engine in this process or a Ray actor holding one."""

    @property
    def batch_cap(self) -> int: ...

    async def answer(self, jobs: list[tuple[ChatRequest, int]]) -> list[Answer]: ...

    def loglikelihoods(self, messages: Chat, options: list[str]) -> list[float]: ...

    async def aclose(self) -> None: ...


class VLLMBackend:
    """Requests batched onto one or more engines: ``vllm.LLM`` in this process (default), or
    ``engines: N`` Ray actors each holding one (:mod:`humanllm.llm.vllm_ray`). A batch goes to
    an idle engine; requests arriving meanwhile form the next batch."""

    def __init__(
        self,
        cfg: VLLMBackendConfig,
        *,
        engine_factory: Callable[[VLLMBackendConfig], Any] = _make_engine,
        api: VLLMApi | None = None,
        engines: Sequence[EngineHandle] | None = None,
    ) -> None:
        self.cfg = cfg
        if engines is None:
            self.worker: EngineWorker | None = EngineWorker(
                cfg, engine_factory=engine_factory, api=api
            )
            engines = [LocalEngine(self.worker)]
        else:
            self.worker = None
        self.engines = list(engines)
        self._idle: asyncio.Queue[EngineHandle] | None = None  # engines with no batch
        self._idle_loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Job] = []
        self._collector: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self.batch_sizes: list[int] = []  # requests per engine call, for tests and benchmarks

    @property
    def model_id(self) -> str:
        return f"vllm:{self.cfg.model}"

    @property
    def batch_cap(self) -> int:
        return min(e.batch_cap for e in self.engines)

    def sampling_params(self, request: ChatRequest, n: int = 1, api: VLLMApi | None = None) -> Any:
        assert self.worker is not None, "sampling parameters are built where the engine is"
        return self.worker.sampling_params(request, n, api)

    # -- chat ------------------------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return (await self.chat_n(request, 1))[0]

    async def chat_n(self, request: ChatRequest, n: int) -> list[ChatResponse]:
        """``n`` replies to one request, sampled together (vLLM's ``SamplingParams.n``)."""
        if n < 1:
            raise PermanentError(f"n must be at least 1, got {n}")
        loop = asyncio.get_running_loop()
        job = _Job(request, n, loop.create_future(), loop)
        self._pending.append(job)
        if self._collector is None or self._collector.done():
            self._collector = loop.create_task(self._collect())
        return await job.future

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        if self._idle is None or self._idle_loop is not loop:  # a queue serves one event loop
            self._idle, self._idle_loop = asyncio.Queue(), loop
            for e in self.engines:
                self._idle.put_nowait(e)
        while self._pending:
            engine = await self._idle.get()
            cap = engine.batch_cap
            if len(self._pending) < cap and self.cfg.batch_window_s > 0:
                await asyncio.sleep(self.cfg.batch_window_s)
            else:
                await asyncio.sleep(0)  # let requests made in the same step join
            batch = self._pending[:cap]  # not empty: only this collector takes requests
            del self._pending[: len(batch)]
            task = loop.create_task(self._send(engine, batch))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _send(self, engine: EngineHandle, batch: list[_Job]) -> None:
        assert self._idle is not None
        try:
            self.batch_sizes.append(len(batch))
            try:
                results = await engine.answer([(j.request, j.n) for j in batch])
            except Exception as e:  # the engine's transport failed (e.g. a Ray actor died)
                err = e if isinstance(e, TransientError) else TransientError(f"vllm: {e}")
                results = [err] * len(batch)
            for job, res in zip(batch, results, strict=True):
                _settle(job.future, res)
        finally:
            self._idle.put_nowait(engine)

    # -- scoring --------------------------------------------------------------------------------

    def loglikelihoods(self, messages: list[tuple[str, str]], options: list[str]) -> list[float]:
        """Sum of log-probs of each option's tokens as the assistant's reply to ``messages``,
        from the engine's prompt log-probabilities (one engine call for all options)."""
        return self.engines[0].loglikelihoods(messages, options)

    async def aclose(self) -> None:
        if self._collector is not None and not self._collector.done():
            await self._collector
        if self._sends:
            await asyncio.gather(*list(self._sends), return_exceptions=True)
        for e in self.engines:
            await e.aclose()


def _settle(fut: asyncio.Future[list[ChatResponse]], res: list[ChatResponse] | Exception) -> None:
    if fut.done():  # the caller gave up (cancelled)
        return
    if isinstance(res, Exception):
        fut.set_exception(res)
    else:
        fut.set_result(res)
