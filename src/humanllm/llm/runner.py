"""The runner every LLM stage uses: rows -> rendered prompts -> requests -> validated objects.

Usage in a stage::

    tpl = package_template("humanllm.curation", "prompts/clean.v1.txt")
    with RequestCache.in_run(run.root) as cache:
        outcome = run_llm(
            rows,                                   # dicts with a stable "record_id"
            id_field="record_id",
            render=lambda r: tpl.render(text=r["text"]),
            schema=Cleaned,                         # a pydantic model
            backend=backend, cache=cache, stage="clean", prompt_version=tpl.id,
            sampling=Sampling(temperature=0.2, max_tokens=512),
            runner_cfg=cfg.llm.runner,
        )
    write_outcome(run, outcome, folder="cleaned", stage="clean", shard="part-00000", source="reddit")

What it guarantees:

- every input id ends in ``results`` or in ``rejects`` (checked before returning), in input order;
- each request is asked once per (record, attempt): seeds come from (record id, stage, attempt),
  replies, failures included, are cached, so a finished run re-run asks nothing and reproduces
  the same results and rejects, and an interrupted run re-asks only what was not committed;
- transient failures (429/5xx/time-outs) are retried with exponential backoff and jitter,
  honouring ``Retry-After``; an invalid, truncated or failing-``validate`` reply is re-asked with
  the next seed up to ``max_invalid_retries`` times, then becomes a reject with the raw text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from humanllm.llm import replies
from humanllm.llm.base import Backend, ChatRequest, PermanentError, Sampling, TransientError
from humanllm.llm.cache import CachedReply, KeyBuilder, RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.progress import LiveProgress, RunSummary
from humanllm.llm.ratelimit import RateLimiter

T = TypeVar("T", bound=BaseModel)
Messages = tuple[tuple[str, str], ...]
Item = Mapping[str, Any]

_CHUNK = 256  # rows rendered and looked up in the cache at once
_MAX_RETRY_AFTER_S = 600.0


@dataclass(frozen=True)
class Reject:
    id: str
    reason: str  # e.g. llm.invalid_json, see humanllm.llm.replies
    error: str
    raw_text: str = ""
    attempts: int = 0  # replies judged for this record (seeds tried)


@dataclass
class RunOutcome(Generic[T]):
    results: dict[str, T]  # id -> validated object, in input order
    rejects: list[Reject]  # in input order
    summary: RunSummary


@dataclass
class _Job:
    index: int
    id: str
    item: Item
    messages: Messages
    first: tuple[ChatRequest, str] | None = None  # attempt 0's request and key, built once


class _Runner(Generic[T]):
    def __init__(
        self,
        *,
        render: Callable[[Item], Messages],
        schema: type[T],
        backend: Backend,
        cache: RequestCache,
        stage: str,
        prompt_version: str,
        sampling: Sampling,
        cfg: RunnerConfig,
        validate: replies.Validator | None,
        retry_rejects: bool,
    ) -> None:
        self.render, self.schema, self.backend, self.cache = render, schema, backend, cache
        self.stage, self.prompt_version, self.sampling, self.cfg = (
            stage,
            prompt_version,
            sampling,
            cfg,
        )
        self.validate, self.retry_rejects = validate, retry_rejects
        self.model_id = backend.model_id
        self.json_schema = schema.model_json_schema()
        self.schema_name = schema.__name__
        self.keys = KeyBuilder(self.model_id, self.json_schema, self.schema_name, prompt_version)
        self.summary = RunSummary(
            price_per_1k_input=cfg.price_per_1k_input, price_per_1k_output=cfg.price_per_1k_output
        )
        self.limiter = RateLimiter(
            cfg.max_concurrency, cfg.requests_per_minute, cfg.tokens_per_minute
        )
        self.results: dict[int, T] = {}
        self.rejects: dict[int, Reject] = {}
        self.progress: LiveProgress | None = None

    # --- requests and verdicts -------------------------------------------------------------
    def request(self, job: _Job, attempt: int) -> tuple[ChatRequest, str]:
        if attempt == 0 and job.first is not None:
            return job.first
        seed = replies.derive_seed(job.id, self.stage, attempt, self.sampling.seed)
        sampling = dataclasses.replace(self.sampling, seed=seed)
        req = ChatRequest(job.messages, sampling, self.json_schema, self.schema_name)
        out = req, self.keys.key(job.messages, sampling)
        if attempt == 0:
            job.first = out
        return out

    def judge(self, job: _Job, reply: CachedReply, attempt: int) -> T | Reject | None:
        """The object, a final reject, or None: invalid, ask again with the next seed."""
        if reply.status not in ("ok", "invalid"):
            return Reject(
                job.id,
                reply.reason or replies.ERROR,
                reply.error or "",
                reply.text or "",
                attempt + 1,
            )
        obj, reason, error = replies.parse_reply(
            reply.text or "", reply.finish_reason, self.schema, self.validate, job.item
        )
        if obj is not None:
            return obj
        if attempt >= self.cfg.max_invalid_retries:
            return Reject(
                job.id, reason or replies.ERROR, error or "", reply.text or "", attempt + 1
            )
        return None

    def finish(self, job: _Job, verdict: T | Reject) -> None:
        if isinstance(verdict, Reject):
            self.rejects[job.index] = verdict
            self.summary.rejects += 1
        else:
            self.results[job.index] = verdict
            self.summary.results += 1
        if self.progress is not None:
            self.progress.advance()

    def replay(self, job: _Job, cached: CachedReply | None) -> tuple[int, bool] | None:
        """Resolve ``job`` from the cache; else ``(attempt to ask next, ignore cached failures)``."""
        attempt, hits = 0, 0
        while cached is not None:
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

    async def ask(self, job: _Job, attempt: int, ignore_cache: bool) -> None:
        first = attempt
        while True:
            req, key = self.request(job, attempt)
            cached = None if ignore_cache or attempt == first else self.cache.get(key)
            if cached is not None:
                self.summary.cache_hits += 1
                reply = cached
            else:
                reply = await self.send(job, req, key, attempt)
            verdict = self.judge(job, reply, attempt)
            if verdict is not None:
                self.finish(job, verdict)
                return
            attempt += 1
            if cached is None:
                self.summary.invalid_retries += 1

    async def send(self, job: _Job, req: ChatRequest, key: str, attempt: int) -> CachedReply:
        """Ask until a reply or a final failure; store it in the cache (unexpected errors excepted)."""
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
                    return self.store(
                        reply(
                            status="permanent",
                            reason=replies.PERMANENT,
                            error=str(e),
                            attempts=tries,
                        )
                    )
                except Exception as e:  # a backend bug: reject the record, do not cache, go on
                    msg = f"{type(e).__name__}: {e}"
                    return reply(status="error", reason=replies.ERROR, error=msg, attempts=tries)
                else:
                    slot.settle(resp.prompt_tokens + resp.completion_tokens)
            if error is None:
                break
            if tries > self.cfg.max_retries:
                msg = f"{error} (gave up after {tries} attempts)"
                return self.store(
                    reply(
                        status="transient",
                        reason=replies.TRANSIENT_EXHAUSTED,
                        error=msg,
                        attempts=tries,
                    )
                )
            self.summary.retries += 1
            await asyncio.sleep(self.backoff(tries - 1, error.retry_after))
        self.summary.tokens_in += resp.prompt_tokens
        self.summary.tokens_out += resp.completion_tokens
        obj, reason, err = replies.parse_reply(
            resp.text, resp.finish_reason, self.schema, self.validate, job.item
        )
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
        return self.store(answered)

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
    async def run(self, rows: list[Item], ids: list[str]) -> None:
        n_workers = 2 * self.cfg.max_concurrency  # extra workers keep slots busy during backoffs
        queue: asyncio.Queue[tuple[_Job, int, bool] | None] = asyncio.Queue(
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
                        _Job(i, ids[i], rows[i], self.render(rows[i])) for i in range(start, stop)
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


async def arun_llm(
    items: Iterable[Item],
    *,
    render: Callable[[Item], Messages],
    schema: type[T],
    backend: Backend,
    cache: RequestCache,
    stage: str,
    prompt_version: str,
    sampling: Sampling | None = None,
    runner_cfg: RunnerConfig | None = None,
    validate: Callable[[T, Item], None] | None = None,
    id_field: str = "id",
    retry_rejects: bool = False,
    progress: bool = True,
) -> RunOutcome[T]:
    """Async form of :func:`run_llm` (use it inside a running event loop)."""
    rows = list(items)
    ids = [str(r[id_field]) for r in rows]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ValueError(f"stage {stage!r}: duplicate {id_field} values in the input, e.g. {dupes}")
    runner: _Runner[T] = _Runner(
        render=render,
        schema=schema,
        backend=backend,
        cache=cache,
        stage=stage,
        prompt_version=prompt_version,
        sampling=sampling or Sampling(),
        cfg=runner_cfg or RunnerConfig(),
        validate=validate,
        retry_rejects=retry_rejects,
    )
    summary = runner.summary
    summary.items = len(rows)
    with LiveProgress(stage, len(rows), summary, enabled=progress) as bar:
        runner.progress = bar
        try:
            await runner.run(rows, ids)
        finally:
            await asyncio.to_thread(cache.flush, 60.0)
    summary.wall_s = summary.elapsed()
    results = {ids[i]: runner.results[i] for i in range(len(rows)) if i in runner.results}
    rejects = [runner.rejects[i] for i in range(len(rows)) if i in runner.rejects]
    lost = [ids[i] for i in range(len(rows)) if (i in runner.results) == (i in runner.rejects)]
    if lost:  # every id must end in exactly one of results / rejects
        raise RuntimeError(
            f"stage {stage!r}: runner lost track of {len(lost)} records, e.g. {lost[:5]}"
        )
    return RunOutcome(results=results, rejects=rejects, summary=summary)


def run_llm(
    items: Iterable[Item],
    *,
    render: Callable[[Item], Messages],
    schema: type[T],
    backend: Backend,
    cache: RequestCache,
    stage: str,
    prompt_version: str,
    sampling: Sampling | None = None,
    runner_cfg: RunnerConfig | None = None,
    validate: Callable[[T, Item], None] | None = None,
    id_field: str = "id",
    retry_rejects: bool = False,
    progress: bool = True,
) -> RunOutcome[T]:
    """Run an LLM stage over ``items`` from sync code.

    ``render(item)`` gives the messages (usually ``template.render(...)``); ``schema`` is the
    pydantic model every reply must fit; ``validate(obj, item)`` may raise to reject a reply that
    fits the schema but is still wrong; ``prompt_version`` (``template.id``) goes into the cache
    key; ``retry_rejects`` re-asks records whose cached outcome is a reject.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(
            arun_llm(
                items,
                render=render,
                schema=schema,
                backend=backend,
                cache=cache,
                stage=stage,
                prompt_version=prompt_version,
                sampling=sampling,
                runner_cfg=runner_cfg,
                validate=validate,
                id_field=id_field,
                retry_rejects=retry_rejects,
                progress=progress,
            )
        )
    raise RuntimeError("run_llm() inside a running event loop: use `await arun_llm(...)` instead")
