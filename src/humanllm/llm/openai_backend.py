"""The ``openai`` backend: any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, hosted APIs)
through the official async client.

The SDK's own retries are off (``max_retries=0``): the runner retries, with its own backoff and
accounting. Errors map onto the runner's two kinds: 429, 408, 409, 5xx, time-outs and connection
failures are :class:`TransientError` (carrying the server's ``Retry-After``); other 4xx are
:class:`PermanentError`. The HTTP connection pool is sized well above any sensible concurrency so
that the client never queues requests behind its own pool.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import openai

from humanllm.llm.base import ChatRequest, ChatResponse, PermanentError, TransientError
from humanllm.llm.config import OpenAIBackendConfig

try:  # the SDK moved from httpx to httpx2; build the pool limits with whichever it uses
    import httpx2 as _httpx
except ImportError:  # pragma: no cover - older SDKs
    import httpx as _httpx  # type: ignore[no-redef]

DUMMY_KEY = "sk-no-key-needed"
_TRANSIENT_STATUS = {408, 409, 425, 429}


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (a number; HTTP dates are ignored)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / scale
        except (TypeError, ValueError):
            continue
        if value >= 0:
            return value
    return None


def _api_key(cfg: OpenAIBackendConfig) -> str:
    if not cfg.api_key_env:
        return DUMMY_KEY
    key = os.environ.get(cfg.api_key_env)
    if not key:
        raise ValueError(
            f"openai backend {cfg.model!r}: environment variable {cfg.api_key_env} is not set"
        )
    return key


class OpenAIBackend:
    """One backend per configured server. Safe to use from several event loops in turn (each loop
    gets its own client, since HTTP connections belong to the loop that opened them)."""

    def __init__(self, cfg: OpenAIBackendConfig, *, max_connections: int = 1024) -> None:
        self.cfg = cfg
        self._key = _api_key(cfg)
        self._max_connections = max_connections
        self._clients: dict[int, tuple[asyncio.AbstractEventLoop, openai.AsyncOpenAI]] = {}

    @property
    def model_id(self) -> str:
        # Not the URL: the same model behind another port or host is the same model.
        return f"openai:{self.cfg.model}"

    @property
    def endpoint(self) -> str:
        """Where requests go (named in error messages)."""
        return self.cfg.base_url

    def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(id(loop))
        if entry is not None and entry[0] is loop:
            return entry[1]
        for key, (old_loop, _) in list(self._clients.items()):
            if old_loop.is_closed():
                del self._clients[key]
        timeout = _httpx.Timeout(self.cfg.timeout_s, connect=min(10.0, self.cfg.timeout_s))
        http = openai.DefaultAsyncHttpxClient(
            timeout=timeout,
            limits=_httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
                keepalive_expiry=30.0,
            ),
        )
        client = openai.AsyncOpenAI(
            base_url=self.cfg.base_url,
            api_key=self._key,
            max_retries=0,
            timeout=timeout,
            http_client=http,
        )
        self._clients[id(loop)] = (loop, client)
        return client

    def request_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        """The body of ``/chat/completions`` for ``request`` (also used by the benchmark's baseline)."""
        s = request.sampling
        kwargs: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": request.openai_messages(),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
        }
        if s.seed is not None:
            kwargs["seed"] = s.seed
        if s.frequency_penalty:
            kwargs["frequency_penalty"] = s.frequency_penalty
        if s.presence_penalty:
            kwargs["presence_penalty"] = s.presence_penalty
        if self.cfg.json_schema and request.json_schema is not None:
            # Sent through extra_body: the same JSON on the wire, but the SDK does not walk every
            # key of the schema looking for TypedDict aliases (about 1 ms of CPU per request for a
            # mid-size schema, a third of the client's cost at high concurrency).
            kwargs["extra_body"] = {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": request.schema_name,
                        "schema": request.json_schema,
                        "strict": True,
                    },
                }
            }
        return kwargs

    async def chat(self, request: ChatRequest) -> ChatResponse:
        client = self._client()
        try:
            # The raw response parsed to a plain dict: the SDK's transport, auth and errors, without
            # building its pydantic models for every reply (~0.4 ms of CPU each at high concurrency).
            raw = await client.chat.completions.with_raw_response.create(
                **self.request_kwargs(request)
            )
            completion = raw.parse(to=dict)
        except openai.APITimeoutError as e:
            raise TransientError(f"time-out after {self.cfg.timeout_s}s") from e
        except openai.APIConnectionError as e:
            raise TransientError(f"connection error: {e}") from e
        except openai.APIStatusError as e:
            status = e.status_code
            msg = f"HTTP {status}: {e.message}"
            if status in _TRANSIENT_STATUS or status >= 500:
                raise TransientError(
                    msg, retry_after=retry_after_seconds(e.response.headers)
                ) from e
            raise PermanentError(msg) from e
        except openai.APIResponseValidationError as e:
            raise TransientError(f"malformed response: {e}") from e
        except openai.OpenAIError as e:
            raise PermanentError(f"{type(e).__name__}: {e}") from e
        except ValueError as e:  # a 200 whose body is not JSON
            raise TransientError(f"malformed response: {e}") from e
        return _to_response(completion, self.cfg.model)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for loop, client in clients:
            if loop is asyncio.get_running_loop():
                await client.close()


def _to_response(completion: Any, model: str) -> ChatResponse:
    """A ``/chat/completions`` JSON body -> :class:`ChatResponse` (a broken body is transient)."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise TransientError(f"the server sent no choices: {str(completion)[:200]!r}")
    choice = choices[0]
    message = choice.get("message") or {}
    text = message.get("content")
    finish = choice.get("finish_reason") or "stop"
    if text is None and message.get("refusal"):
        text, finish = message["refusal"], "content_filter"
    usage = completion.get("usage") or {}
    return ChatResponse(
        text=text if isinstance(text, str) else "",
        finish_reason=finish,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        model=completion.get("model") or model,
    )
