"""The backend interface every LLM backend implements, and the errors the runner understands.

A backend turns one :class:`ChatRequest` into one :class:`ChatResponse`. It does not retry, cache
or validate: the runner (``humanllm.llm.runner``) does. It raises :class:`TransientError` for
failures worth retrying (HTTP 429/5xx, time-outs, connection errors) and :class:`PermanentError`
for the rest (bad request, unknown model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None
    frequency_penalty: float = 0.0  # OpenAI semantics: subtract penalty x count of the token so far
    presence_penalty: float = 0.0  # OpenAI semantics: subtract penalty once a token has appeared

    def key(self) -> dict[str, Any]:
        key: dict[str, Any] = {
            name: getattr(self, name) for name in ("temperature", "top_p", "max_tokens", "seed")
        }
        if (
            self.frequency_penalty or self.presence_penalty
        ):  # absent when unused: old cache keys stay valid
            key["frequency_penalty"] = self.frequency_penalty
            key["presence_penalty"] = self.presence_penalty
        return key


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs: "system" | "user" | "assistant"
    sampling: Sampling = field(default_factory=Sampling)
    json_schema: dict[str, Any] | None = None  # guided decoding / response_format where supported
    schema_name: str = "output"

    def openai_messages(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]


@dataclass
class ChatResponse:
    text: str
    finish_reason: str = "stop"  # "stop" | "length" | "content_filter" | ...
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""


class LLMError(RuntimeError):
    """Base class of backend errors."""


class TransientError(LLMError):
    """Worth retrying with backoff: rate limits, server errors, time-outs, dropped connections."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(LLMError):
    """Not worth retrying: the request itself is wrong (bad schema, unknown model, 4xx)."""


class OutageError(LLMError):
    """Too many records of one runner call failed for good on transient errors (the server was
    down past every retry). The stage stops unfinished; answers so far are cached, the failed
    records are not, so running the stage again asks only those."""


@runtime_checkable
class Backend(Protocol):
    """What the runner needs of a backend."""

    @property
    def model_id(self) -> str:
        """Identifies the model (and weights) for the request cache."""
        ...

    async def chat(self, request: ChatRequest) -> ChatResponse: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Scorer(Protocol):
    """Backends that can score options by log-likelihood (``transformers``)."""

    def loglikelihoods(self, messages: list[tuple[str, str]], options: list[str]) -> list[float]:
        """Sum of log-probabilities of each option's tokens as the assistant's reply to ``messages``."""
        ...
