"""One ``vllm.LLM`` engine and the mapping around it, wherever it runs (in the backend's process
or in a Ray actor): requests -> engine inputs, outputs -> the runner's replies, engine errors ->
the runner's errors, and option scoring from prompt log-probabilities. The batching in front of
it is :mod:`humanllm.llm.vllm_backend`.

GPU-only: :func:`_make_engine` and the import in :func:`vllm_api` (marked below) need the
``vllm`` package and a GPU; they never run in this project's CI. Everything else is tested on the
CPU against a fake engine with ``vllm.LLM``'s interface (tests/llm/test_vllm_backend.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


#: What an engine gives back for one request: its ``n`` replies, or the runner's error.
Answer = list[ChatResponse] | Exception


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def _is_dead(exc: BaseException) -> bool:
    return type(exc).__name__ == "EngineDeadError"


class EngineWorker:
    """One ``vllm.LLM`` and the mapping around it: requests -> engine inputs, outputs -> replies,
    engine errors -> the runner's errors. Lives in the backend's process (:class:`LocalEngine`) or
    in a Ray actor (:mod:`humanllm.llm.vllm_ray`); built on first use; one call at a time."""

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
        self.batch_cap = cfg.max_batch
        self.batch_sizes: list[int] = []  # requests per engine call, for tests and benchmarks
        self.builds = 0  # engines built (a dead one is built again)

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
            self.builds += 1
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

    # -- one batch -------------------------------------------------------------------------------

    def answer(self, jobs: Sequence[tuple[ChatRequest, int]]) -> list[Answer]:
        """Replies to ``(request, n)`` pairs, in one engine call."""
        with self._lock:
            return self._answer(list(jobs))

    def _answer(self, jobs: list[tuple[ChatRequest, int]]) -> list[Answer]:
        try:
            engine, api = self._ready()
            params = [self.sampling_params(r, n, api) for r, n in jobs]
            self.batch_sizes.append(len(jobs))
            outs = engine.chat([r.openai_messages() for r, _ in jobs], params, use_tqdm=False)
        except Exception as e:  # mapped to the runner's errors
            err = self._mapped(e)
            if isinstance(err, PermanentError) and len(jobs) > 1 and self._engine is not None:
                return [r for j in jobs for r in self._answer([j])]  # only the bad one fails
            return [err] * len(jobs)
        if len(outs) != len(jobs):
            err = TransientError(f"vllm returned {len(outs)} outputs for {len(jobs)} requests")
            return [err] * len(jobs)
        return [self._responses(out, n) for out, (_, n) in zip(outs, jobs, strict=True)]

    def _responses(self, out: Any, n: int) -> Answer:
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

    def loglikelihoods(self, messages: Chat, options: list[str]) -> list[float]:
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

    def close(self) -> None:
        with self._lock:
            self._engine = None


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
