"""The ``openai`` backend: any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, hosted APIs)
through the official async client.

The SDK's own retries are off (``max_retries=0``): the runner retries, with its own backoff and
accounting. Errors map onto the runner's two kinds: 429, 408, 409, 5xx, time-outs and connection
failures are :class:`TransientError` (carrying the server's ``Retry-After``); other 4xx are
:class:`PermanentError`. The HTTP connection pool is sized well above any sensible concurrency so
that the client never queues requests behind its own pool.

With ``base_urls`` the backend spreads requests over several servers of the model
(:mod:`humanllm.llm.pool`): a request whose server fails (5xx, time-out, connection error) is sent
to another one before the runner sees an error. ``await backend.check()`` asks every server's
``/models`` and raises :class:`OutageError` naming each URL and its error when none answers; a
pool checks itself the same way on first use, keeping the servers that do not answer out.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import openai

from humanllm.llm.base import (
    ChatRequest,
    ChatResponse,
    OutageError,
    PermanentError,
    TransientError,
)
from humanllm.llm.config import OpenAIBackendConfig
from humanllm.llm.pool import EndpointPool

try:  # the SDK moved from httpx to httpx2; build the pool limits with whichever it uses
    import httpx2 as _httpx
except ImportError:  # pragma: no cover - older SDKs
    import httpx as _httpx  # type: ignore[no-redef]

DUMMY_KEY = "sk-no-key-needed"
_TRANSIENT_STATUS = {408, 409, 425, 429}
log = logging.getLogger(__name__)


class ServerDown(TransientError):
    """The server failed, not the request: a 5xx, a time-out, or no connection (``unreachable``)."""

    def __init__(
        self, message: str, *, unreachable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.unreachable = unreachable


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
    """One backend per configured server or pool of servers. Safe to use from several event loops
    in turn (each loop gets its own clients, since HTTP connections belong to the loop that opened
    them)."""

    def __init__(self, cfg: OpenAIBackendConfig, *, max_connections: int = 1024) -> None:
        self.cfg = cfg
        self._key = _api_key(cfg)
        self._max_connections = max_connections
        self._clients: dict[
            tuple[int, str], tuple[asyncio.AbstractEventLoop, openai.AsyncOpenAI]
        ] = {}
        self.pool = EndpointPool(
            cfg.urls,
            cap=cfg.max_concurrency_per_endpoint,
            max_failures=cfg.endpoint_max_failures,
            backoff_s=cfg.endpoint_backoff_s,
            backoff_max_s=cfg.endpoint_backoff_max_s,
        )
        self._checked = len(self.pool) == 1  # a pool of one is never taken out: nothing to check
        self._check_task: asyncio.Task[list[tuple[str, str | None]]] | None = None

    @property
    def model_id(self) -> str:
        # Not the URL: the same model behind another port or host is the same model.
        return f"openai:{self.cfg.model}"

    @property
    def endpoint(self) -> str:
        """Where requests go (named in error messages): the URL, or the pool and its URLs."""
        return self.pool.describe()

    def _client(self, url: str) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        entry = self._clients.get((id(loop), url))
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
            base_url=url, api_key=self._key, max_retries=0, timeout=timeout, http_client=http
        )
        self._clients[(id(loop), url)] = (loop, client)
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
        """Ask the least busy server; on a server failure ask the next one not tried yet."""
        if not self._checked:
            await self._start_check()
        tried: list[str] = []
        last: TransientError | None = None
        while True:
            if last is not None and len(tried) == len(self.pool):
                raise last  # every server failed this very request: the runner's retry is next
            try:
                lease = await self.pool.acquire(tried)
            except TransientError as e:
                if last is None:
                    raise
                raise TransientError(f"{last}; {e}", retry_after=e.retry_after) from last
            url = lease.endpoint.url
            tried.append(url)
            try:
                resp = await self._send(url, request)
            except ServerDown as e:
                self.pool.release(lease, "unreachable" if e.unreachable else "failed", str(e))
                if len(self.pool) == 1:
                    raise
                last = TransientError(f"{url}: {e}", retry_after=e.retry_after)
                continue
            except (TransientError, PermanentError):  # the server answered; the request failed
                self.pool.release(lease, "answered")
                raise
            except BaseException:
                self.pool.release(lease, "cancelled")
                raise
            self.pool.release(lease, "answered")
            return resp

    async def _send(self, url: str, request: ChatRequest) -> ChatResponse:
        client = self._client(url)
        try:
            # The raw response parsed to a plain dict: the SDK's transport, auth and errors, without
            # building its pydantic models for every reply (~0.4 ms of CPU each at high concurrency).
            raw = await client.chat.completions.with_raw_response.create(
                **self.request_kwargs(request)
            )
            completion = raw.parse(to=dict)
        except openai.APITimeoutError as e:
            raise ServerDown(f"time-out after {self.cfg.timeout_s}s") from e
        except openai.APIConnectionError as e:
            raise ServerDown(f"connection error: {e}", unreachable=True) from e
        except openai.APIStatusError as e:
            status = e.status_code
            msg = f"HTTP {status}: {e.message}"
            after = retry_after_seconds(e.response.headers)
            if status >= 500:
                raise ServerDown(msg, retry_after=after) from e
            if status in _TRANSIENT_STATUS:
                raise TransientError(msg, retry_after=after) from e
            raise PermanentError(msg) from e
        except openai.APIResponseValidationError as e:
            raise TransientError(f"malformed response: {e}") from e
        except openai.OpenAIError as e:
            raise PermanentError(f"{type(e).__name__}: {e}") from e
        except ValueError as e:  # a 200 whose body is not JSON
            raise TransientError(f"malformed response: {e}") from e
        return _to_response(completion, self.cfg.model)

    # --- the start check --------------------------------------------------------------------
    async def check(self) -> list[tuple[str, str | None]]:
        """Ask every server's ``/models``: (URL, error or None) for each. Servers that do not
        answer are kept out of the pool (a warning each); none answering is an
        :class:`OutageError` naming every URL and its error."""
        results = await self._probe()
        if all(err is not None for _, err in results):
            detail = "; ".join(f"{url}: {err}" for url, err in results)
            raise OutageError(
                f"openai backend {self.cfg.model!r}: no model server answers GET /models: {detail}"
            )
        return results

    async def _start_check(self) -> None:
        """The check on a pool's first use, once, shared by the requests that wait on it."""
        loop = asyncio.get_running_loop()
        task = self._check_task
        if task is None or task.get_loop() is not loop:
            task = self._check_task = loop.create_task(self._probe())
        await asyncio.shield(task)

    async def _probe(self) -> list[tuple[str, str | None]]:
        errors = await asyncio.gather(*(self._probe_one(url) for url in self.pool.urls))
        for e, err in zip(self.pool.endpoints, errors, strict=True):
            if err is not None:
                log.warning("model server %s does not answer at start: %s", e.url, err)
                self.pool.take_out(e, f"no answer at start: {err}")
        self._checked = True
        return list(zip(self.pool.urls, errors, strict=True))

    async def _probe_one(self, url: str) -> str | None:
        """None when the server answers ``/models`` (any reply but a 5xx), else the error."""
        client = self._client(url).with_options(timeout=min(10.0, self.cfg.timeout_s))
        try:
            page = await client.models.list()
        except openai.APIStatusError as e:
            return f"HTTP {e.status_code}: {e.message}" if e.status_code >= 500 else None
        except openai.APITimeoutError:
            return f"time-out after {min(10.0, self.cfg.timeout_s)}s"
        except openai.OpenAIError as e:
            return f"{type(e).__name__}: {e}"
        served = [m.id for m in page.data]
        if served and self.cfg.model not in served:
            log.warning(
                "model server %s does not list model %r (it serves %s)",
                url,
                self.cfg.model,
                ", ".join(served[:5]),
            )
        return None

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
