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

GPU-only: :func:`_make_engine` and the import in :func:`vllm_api` (marked below) need the
``vllm`` package and a GPU; they never run in this project's CI. Everything else is tested on the
CPU against a fake engine with ``vllm.LLM``'s interface (tests/llm/test_vllm_backend.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from humanllm.llm.base import ChatRequest, ChatResponse, PermanentError, TransientError
from humanllm.llm.chat_tokens import Chat, chat_segments, chat_token_ids
from humanllm.llm.config import VLLMBackendConfig


@dataclass(frozen=True)
class VLLMApi:
    """The pieces of vLLM's Python API this backend builds requests with."""

    sampling_params: Callable[..., Any]  # vllm.SamplingParams
    structured: Callable[..., Any]  # StructuredOutputsParams or GuidedDecodingParams
    structured_field: str  # the SamplingParams argument taking it
    tokens_prompt: Callable[..., Any] = dict  # vllm.inputs.TokensPrompt (a TypedDict)


def api_from_module(sampling_module: Any, tokens_prompt: Callable[..., Any] = dict) -> VLLMApi:
    """The API of ``vllm.sampling_params``: ``StructuredOutputsParams`` (vLLM >= 0.10.2; the only
    one since 0.12) if it has it, else ``GuidedDecodingParams``."""
    if hasattr(sampling_module, "StructuredOutputsParams"):
        structured, name = sampling_module.StructuredOutputsParams, "structured_outputs"
    elif hasattr(sampling_module, "GuidedDecodingParams"):
        structured, name = sampling_module.GuidedDecodingParams, "guided_decoding"
    else:
        raise PermanentError(
            "this vLLM has neither StructuredOutputsParams nor GuidedDecodingParams: "
            "install vllm>=0.6"
        )
    return VLLMApi(sampling_module.SamplingParams, structured, name, tokens_prompt)


def vllm_api() -> VLLMApi:
    # GPU-only: never executed in this project's CI (no vllm package there)
    import vllm.sampling_params
    from vllm.inputs import TokensPrompt

    return api_from_module(vllm.sampling_params, TokensPrompt)


def _make_engine(cfg: VLLMBackendConfig) -> Any:
    # GPU-only: never executed in this project's CI (needs vllm and a GPU)
    import vllm

    return vllm.LLM(**cfg.engine_kwargs())


@dataclass
class _Job:
    request: ChatRequest
    n: int
    future: asyncio.Future[list[ChatResponse]]
    loop: asyncio.AbstractEventLoop = field(repr=False)


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def _is_dead(exc: BaseException) -> bool:
    return type(exc).__name__ == "EngineDeadError"


class VLLMBackend:
    """``vllm.LLM`` in-process; the engine is built on first use (in a worker thread)."""

    def __init__(
        self,
        cfg: VLLMBackendConfig,
        *,
        engine_factory: Callable[[VLLMBackendConfig], Any] = _make_engine,
        api: VLLMApi | None = None,
    ) -> None:
        self.cfg = cfg
        self._factory = engine_factory
        self._api = api
        self._engine: Any = None
        self._lock = threading.Lock()  # one engine call at a time (vllm.LLM is not thread-safe)
        self._pending: list[_Job] = []
        self._collector: asyncio.Task[None] | None = None
        self.batch_cap = cfg.max_batch
        self.batch_sizes: list[int] = []  # requests per engine call, for tests and benchmarks

    @property
    def model_id(self) -> str:
        return f"vllm:{self.cfg.model}"

    # -- engine ---------------------------------------------------------------------------------

    def _ready(self) -> tuple[Any, VLLMApi]:
        """The engine and API, built if needed; call with the lock held."""
        if self._api is None:
            self._api = vllm_api()  # GPU-only: tests always pass an api
        if self._engine is None:
            try:
                self._engine = self._factory(self.cfg)
            except (ValueError, TypeError) as e:  # a bad model path or engine argument
                raise PermanentError(
                    f"vllm: cannot build the engine for {self.cfg.model}: {e}"
                ) from e
            except Exception as e:  # e.g. GPU memory still held: retry later
                raise TransientError(f"vllm: cannot build the engine: {e}") from e
        return self._engine, self._api

    def _mapped(self, exc: Exception) -> Exception:
        if isinstance(exc, PermanentError | TransientError):
            return exc
        if _is_dead(exc):
            self._engine = None  # built again on the next request
            return TransientError(f"vllm engine died: {exc}")
        if _is_oom(exc):
            self.batch_cap = max(1, self.batch_cap // 2)
            return TransientError(f"vllm: out of GPU memory (batches now <= {self.batch_cap})")
        if isinstance(exc, ValueError | TypeError):
            return PermanentError(f"vllm rejected the request: {exc}")
        return TransientError(f"vllm: {type(exc).__name__}: {exc}")

    # -- requests -> engine inputs -------------------------------------------------------------

    def sampling_params(self, request: ChatRequest, n: int = 1, api: VLLMApi | None = None) -> Any:
        api = api or self._api
        assert api is not None
        s = request.sampling
        kwargs: dict[str, Any] = {
            "n": n,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "frequency_penalty": s.frequency_penalty,
            "presence_penalty": s.presence_penalty,
        }
        if request.json_schema is not None and self.cfg.structured_outputs:
            kwargs[api.structured_field] = api.structured(json=request.json_schema)
        return api.sampling_params(**kwargs)

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
        while self._pending:
            if len(self._pending) < self.batch_cap and self.cfg.batch_window_s > 0:
                await asyncio.sleep(self.cfg.batch_window_s)
            else:
                await asyncio.sleep(0)  # let requests made in the same step join
            batch = self._pending[: self.batch_cap]
            del self._pending[: len(batch)]
            await asyncio.to_thread(self._run_batch, batch)

    def _run_batch(self, jobs: list[_Job]) -> None:
        with self._lock:
            results = self._answer(jobs)
        for job, res in zip(jobs, results, strict=True):
            job.loop.call_soon_threadsafe(_settle, job.future, res)

    def _answer(self, jobs: list[_Job]) -> list[list[ChatResponse] | Exception]:
        try:
            engine, api = self._ready()
            params = [self.sampling_params(j.request, j.n, api) for j in jobs]
            self.batch_sizes.append(len(jobs))
            outs = engine.chat([j.request.openai_messages() for j in jobs], params, use_tqdm=False)
        except Exception as e:  # mapped to the runner's errors
            err = self._mapped(e)
            if isinstance(err, PermanentError) and len(jobs) > 1 and self._engine is not None:
                return [r for j in jobs for r in self._answer([j])]  # only the bad one fails
            return [err] * len(jobs)
        if len(outs) != len(jobs):
            err = TransientError(f"vllm returned {len(outs)} outputs for {len(jobs)} requests")
            return [err] * len(jobs)
        return [self._responses(out, j.n) for out, j in zip(outs, jobs, strict=True)]

    def _responses(self, out: Any, n: int) -> list[ChatResponse] | Exception:
        prompt_tokens = len(out.prompt_token_ids or [])
        if len(out.outputs) < n:
            return TransientError(f"vllm returned {len(out.outputs)} of {n} replies")
        replies = []
        for c in out.outputs[:n]:
            reason = c.finish_reason or "stop"
            if reason == "abort":
                return TransientError("vllm aborted the request")
            replies.append(
                ChatResponse(
                    text=c.text,
                    finish_reason=reason,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=len(c.token_ids),
                    model=self.cfg.model,
                )
            )
        return replies

    # -- scoring --------------------------------------------------------------------------------

    def loglikelihoods(self, messages: list[tuple[str, str]], options: list[str]) -> list[float]:
        """Sum of log-probs of each option's tokens as the assistant's reply to ``messages``,
        from the engine's prompt log-probabilities (one engine call for all options)."""
        with self._lock:
            engine, api = self._ready()
            tok = engine.get_tokenizer()
            prompt = _prompt_ids(tok, messages)
            conts = []
            for o in options:
                ids = _tokenize(tok, o, special=False)
                if not ids:
                    raise ValueError(f"option {o!r} has no tokens: cannot score an empty reply")
                conts.append(ids)
            params = api.sampling_params(max_tokens=1, temperature=0.0, prompt_logprobs=1)
            prompts = [api.tokens_prompt(prompt_token_ids=prompt + c) for c in conts]
            try:
                outs = engine.generate(prompts, params, use_tqdm=False)
            except Exception as e:
                raise self._mapped(e) from e
        if len(outs) != len(conts):
            raise TransientError(f"vllm returned {len(outs)} outputs for {len(conts)} options")
        return [
            _summed(out.prompt_logprobs, prompt + c, len(prompt))
            for out, c in zip(outs, conts, strict=True)
        ]

    async def aclose(self) -> None:
        if self._collector is not None and not self._collector.done():
            await self._collector
        with self._lock:
            self._engine = None


def _settle(fut: asyncio.Future[list[ChatResponse]], res: list[ChatResponse] | Exception) -> None:
    if fut.done():  # the caller gave up (cancelled)
        return
    if isinstance(res, Exception):
        fut.set_exception(res)
    else:
        fut.set_result(res)


def _tokenize(tok: Any, text: str, special: bool) -> list[int]:
    enc = tok(text, add_special_tokens=False, split_special_tokens=not special)
    return list(enc["input_ids"])


def _prompt_ids(tok: Any, messages: Chat) -> list[int]:
    def render(chat: list[dict[str, str]]) -> str:
        return str(tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))

    return chat_token_ids(chat_segments(render, messages), lambda t, s: _tokenize(tok, t, s))[0]


def _summed(prompt_logprobs: Sequence[Any] | None, ids: list[int], start: int) -> float:
    """Sum of the log-probs of ``ids[start:]`` in vLLM's ``prompt_logprobs`` (one dict per prompt
    position, token id -> Logprob, None at position 0)."""
    if prompt_logprobs is None or len(prompt_logprobs) != len(ids):
        raise TransientError("vllm returned no prompt log-probabilities for every token")
    total = 0.0
    for pos in range(start, len(ids)):
        entry = prompt_logprobs[pos]
        if entry is None or ids[pos] not in entry:
            raise TransientError(f"vllm left out the log-prob of prompt token {pos}")
        lp = entry[ids[pos]]
        total += float(getattr(lp, "logprob", lp))
    return total
