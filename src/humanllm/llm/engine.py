"""The runner's engine: one record's way through cache, requests, retries and verdicts.

Used through :func:`humanllm.llm.runner.run_llm`; see there for what it guarantees.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Required, TypedDict, TypeVar, Unpack

from pydantic import BaseModel

from humanllm.llm import replies
from humanllm.llm.base import Backend, ChatRequest, PermanentError, Sampling, TransientError
from humanllm.llm.budget import fit_schema
from humanllm.llm.cache import CachedReply, KeyBuilder, RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.progress import LiveProgress, RunSummary
from humanllm.llm.ratelimit import RateLimiter
from humanllm.llm.replies import Reject

T = TypeVar("T", bound=BaseModel)
Messages = tuple[tuple[str, str], ...]
Item = Mapping[str, Any]

_Parsed = tuple[T | None, str | None, str | None]  # parse_reply's (object, reason, error)
_CHUNK = 256  # rows rendered and looked up in the cache at once
_MAX_RETRY_AFTER_S = 600.0


@dataclass
class Job:
    index: int
    id: str
    item: Item
    messages: Messages
    first: tuple[ChatRequest, str] | None = None  # attempt 0's request and key, built once


class LLMCall(TypedDict, Generic[T], total=False):
    """The keyword arguments of one runner call (:func:`~humanllm.llm.runner.run_llm`,
    ``arun_llm``) that make its :class:`Engine`; the first six are required."""

    render: Required[Callable[[Any], Messages]]  # item -> messages (usually template.render)
    schema: Required[type[T]]  # the pydantic model every reply must fit
    backend: Required[Backend]
    cache: Required[RequestCache]
    stage: Required[str]
    prompt_version: Required[str]  # template.id: goes into the cache key
    sampling: Sampling | None  # none: Sampling()
    runner_cfg: RunnerConfig | None  # none: RunnerConfig()
    validate: replies.Validator | None  # (object, item): raises to reject a reply that fits
    retry_rejects: bool  # re-ask records whose cached outcome is a reject (or runner_cfg's)


class Engine(Generic[T]):
    """State of one runner call: counters, verdicts by input index, the limiter."""

    def __init__(self, *, limiter: RateLimiter | None = None, **call: Unpack[LLMCall[T]]) -> None:
        schema, backend = call["schema"], call["backend"]
        sampling = call.get("sampling") or Sampling()
        cfg = call.get("runner_cfg") or RunnerConfig()
        self.render, self.schema, self.validate = call["render"], schema, call.get("validate")
        self.backend, self.cache, self.cfg = backend, call["cache"], cfg
        self.stage, self.sampling = call["stage"], sampling
        self.retry_rejects = call.get("retry_rejects", False) or cfg.retry_rejects
        self.model_id = backend.model_id
        self.json_schema: dict[str, Any] | None = schema.model_json_schema()
        if cfg.fit_schema_to_max_tokens:  # the grammar then closes every string in time
            self.json_schema = fit_schema(self.json_schema, sampling.max_tokens)
        self.schema_name = schema.__name__
        self.keys = KeyBuilder(
            self.model_id, self.json_schema, self.schema_name, call["prompt_version"]
        )
        self.summary = RunSummary(
            price_per_1k_input=cfg.price_per_1k_input, price_per_1k_output=cfg.price_per_1k_output
        )
        # shared by the calls of one stage (units run side by side) or this call's own
        self.limiter = limiter or RateLimiter(
            cfg.max_concurrency, cfg.requests_per_minute, cfg.tokens_per_minute
        )
        self.results: dict[int, T] = {}
        self.rejects: dict[int, Reject] = {}
        self.progress: LiveProgress | None = None
        self.transient_errors: list[str] = []  # the error of each record given up on (outage)

    # --- requests and verdicts -------------------------------------------------------------
    def request(self, job: Job, attempt: int) -> tuple[ChatRequest, str]:
        if attempt == 0 and job.first is not None:
            return job.first
        seed = replies.derive_seed(job.id, self.stage, attempt, self.sampling.seed)
        sampling = dataclasses.replace(self.sampling, seed=seed)
        req = ChatRequest(job.messages, sampling, self.json_schema, self.schema_name)
        out = req, self.keys.key(job.messages, sampling)
        if attempt == 0:
            job.first = out
        return out

    def judge(
        self, job: Job, reply: CachedReply, attempt: int, parsed: _Parsed[T] | None = None
    ) -> T | Reject | None:
        """The object, a final reject, or None: invalid, ask again with the next seed.

        Cached replies are parsed and validated again (a changed ``validate`` applies to them);
        a fresh reply comes with ``parsed`` from :meth:`send`.
        """
        if reply.status not in ("ok", "invalid"):
            return Reject(
                job.id,
                reply.reason or replies.ERROR,
                reply.error or "",
                reply.text or "",
                attempt + 1,
            )
        obj, reason, error = parsed or replies.parse_reply(
            reply.text or "", reply.finish_reason, self.schema, self.validate, job.item
        )
        if obj is not None:
            return obj
        if attempt >= self.cfg.max_invalid_retries:
            return Reject(
                job.id, reason or replies.ERROR, error or "", reply.text or "", attempt + 1
            )
        return None

    def finish(self, job: Job, verdict: T | Reject) -> None:
        if isinstance(verdict, Reject):
            self.rejects[job.index] = verdict
            self.summary.rejects += 1
            if verdict.reason == replies.TRANSIENT_EXHAUSTED:
                self.summary.transient_rejects += 1
                self.transient_errors.append(verdict.error)
        else:
            self.results[job.index] = verdict
            self.summary.results += 1
        if self.progress is not None:
            self.progress.advance()

    def replay(self, job: Job, cached: CachedReply | None) -> tuple[int, bool] | None:
        """Resolve ``job`` from the cache; else ``(attempt to ask next, ignore cached failures)``.

        A transient failure is never final: one found in the cache (written by an older version)
        is asked again, as if it were not there."""
        attempt, hits = 0, 0
        while cached is not None and cached.status != "transient":
            hits += 1
            verdict = self.judge(job, cached, attempt)
            if isinstance(verdict, Reject) and self.retry_rejects:
                return 0, True
            if verdict is not None:
                self.summary.cache_hits += hits
                self.finish(job, verdict)
                return None
            attempt += 1
            cached = self.cache.get(self.request(job, attempt)[1])
        self.summary.cache_hits += hits
        return attempt, False

    async def ask(self, job: Job, attempt: int, ignore_cache: bool) -> None:
        first = attempt
        while True:
            req, key = self.request(job, attempt)
            cached = None if ignore_cache or attempt == first else self.cache.get(key)
            if cached is not None and cached.status == "transient":
                cached = None  # an outage is never an answer: ask again
            parsed = None
            if cached is not None:
                self.summary.cache_hits += 1
                reply = cached
            else:
                reply, parsed = await self.send(job, req, key)
            verdict = self.judge(job, reply, attempt, parsed)
            if verdict is not None:
                self.finish(job, verdict)
                return
            attempt += 1
            if cached is None:
                self.summary.invalid_retries += 1

    async def send(
        self, job: Job, req: ChatRequest, key: str
    ) -> tuple[CachedReply, _Parsed[T] | None]:
        """Ask until a reply or a final failure, and cache it.

        Not cached: unexpected errors (a backend bug) and transient failures that outlasted the
        retries (an outage): a later run asks those again."""
        reply = functools.partial(
            CachedReply, key=key, model=self.model_id, stage=self.stage, item_id=job.id
        )
        est = _estimate_tokens(req) if self.limiter.limits_tokens else 0
        tries = 0
        while True:
            tries += 1
            error: TransientError | None = None
            async with self.limiter.slot(est) as slot:
                self.summary.requests += 1
                try:
                    resp = await self.backend.chat(req)
                except TransientError as e:
                    error = e
                except PermanentError as e:
                    failed = reply(
                        status="permanent", reason=replies.PERMANENT, error=str(e), attempts=tries
                    )
                    return self.store(failed), None
                except Exception as e:  # a backend bug: reject the record, do not cache, go on
                    msg = f"{type(e).__name__}: {e}"
                    return reply(
                        status="error", reason=replies.ERROR, error=msg, attempts=tries
                    ), None
                else:
                    slot.settle(resp.prompt_tokens + resp.completion_tokens)
            if error is None:
                break
            if tries > self.cfg.max_retries:
                msg = f"{error} (gave up after {tries} attempts)"
                failed = reply(
                    status="transient",
                    reason=replies.TRANSIENT_EXHAUSTED,
                    error=msg,
                    attempts=tries,
                )
                return failed, None
            self.summary.retries += 1
            await asyncio.sleep(self.backoff(tries - 1, error.retry_after))
        self.summary.tokens_in += resp.prompt_tokens
        self.summary.tokens_out += resp.completion_tokens
        parsed = replies.parse_reply(
            resp.text, resp.finish_reason, self.schema, self.validate, job.item
        )
        obj, reason, err = parsed
        answered = reply(
            status="ok" if obj is not None else "invalid",
            text=resp.text,
            parsed=None if obj is None else obj.model_dump(mode="json"),
            finish_reason=resp.finish_reason,
            prompt_tokens=resp.prompt_tokens,
            completion_tokens=resp.completion_tokens,
            error=err,
            reason=reason,
            attempts=tries,
        )
        return self.store(answered), parsed

    def store(self, reply: CachedReply) -> CachedReply:
        self.cache.put(reply)
        return reply

    def backoff(self, retry: int, retry_after: float | None) -> float:
        delay = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2**retry) * random.uniform(
            0.5, 1.0
        )
        if retry_after is not None:
            delay = max(delay, min(retry_after, _MAX_RETRY_AFTER_S))
        return delay

    # --- the loop -------------------------------------------------------------------------
    async def run(self, rows: Sequence[Item], ids: list[str]) -> None:
        n_workers = 2 * self.cfg.max_concurrency  # extra workers keep slots busy during backoffs
        queue: asyncio.Queue[tuple[Job, int, bool] | None] = asyncio.Queue(
            maxsize=self.cfg.max_concurrency
        )

        async def worker() -> None:
            while (entry := await queue.get()) is not None:
                await self.ask(*entry)

        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(n_workers):
                    tg.create_task(worker())
                for start in range(0, len(rows), _CHUNK):
                    stop = min(start + _CHUNK, len(rows))
                    jobs = [
                        Job(i, ids[i], rows[i], self.render(rows[i])) for i in range(start, stop)
                    ]
                    firsts = [self.request(job, 0)[1] for job in jobs]
                    found = self.cache.get_many(firsts)
                    for job, key in zip(jobs, firsts, strict=True):
                        todo = self.replay(job, found.get(key))
                        if todo is not None:
                            await queue.put((job, *todo))
                for _ in range(n_workers):
                    await queue.put(None)
        except BaseExceptionGroup as group:  # a failing render() or a bug: raise it as itself
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise


def _estimate_tokens(req: ChatRequest) -> int:
    return (
        sum(len(c) for _, c in req.messages) // 4 + 4 * len(req.messages) + req.sampling.max_tokens
    )
