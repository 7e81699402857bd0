"""An OpenAI-compatible HTTP server over a GGUF model (default: the embedded model).

``GET /v1/models`` and ``POST /v1/chat/completions`` with ``messages``, ``temperature``,
``top_p``, ``max_tokens`` (or ``max_completion_tokens``), ``seed``, ``n`` (up to ``max_n``; choice
``i`` is sampled with ``seed + i``), ``stream`` (with ``stream_options.include_usage``) and
``response_format`` ``{"type": "json_schema", "json_schema": {"name", "schema"}}`` or
``{"type": "json_object"}``, both decoded under a grammar, so the reply is JSON of that shape
(streamed or not).

``stream: true`` answers with server-sent events in OpenAI's chunk format: ``data: {chunk}`` per
event (``object: "chat.completion.chunk"``, a ``delta`` per choice, ``finish_reason`` in the
choice's last chunk), a last chunk with ``usage`` and no choices when
``stream_options.include_usage`` is set, then ``data: [DONE]``. A backend with a ``chat_stream``
method (:class:`StreamingBackend`) is streamed piece by piece; any other backend sends each
choice's reply as one delta once it is complete. The first event is sent only once the backend has
produced something, so a bad request (e.g. a schema without a grammar) is still a plain 400; an
error after that arrives as a ``data: {"error": ...}`` event, which the ``openai`` client raises.

Errors come back in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``: 400 for a
bad request, 404 for an unknown path, 503 for a transient failure. Requests are served by a
:class:`~humanllm.llm.llamacpp.LlamaCppBackend`, ``n_parallel`` at a time; the rest queue.
The server has no authentication: it binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from humanllm.llm.base import (
    Backend,
    ChatRequest,
    ChatResponse,
    LLMError,
    PermanentError,
    Sampling,
    TransientError,
)
from humanllm.llm.config import LlamaCppBackendConfig

#: Default of the largest ``n`` one request may ask for (``serve --max-n``).
DEFAULT_MAX_N = 8


@runtime_checkable
class StreamingBackend(Protocol):
    """A backend that can hand out its reply as it decodes: text pieces, then the response."""

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        """Yield the reply's text in pieces, then one :class:`ChatResponse` (its ``text`` unused)."""
        ...


class _TextPart(BaseModel):
    type: Literal["text"]
    text: str


class _Message(BaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[_TextPart]

    def text(self) -> str:
        return (
            self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        )


class _JsonSchemaSpec(BaseModel):
    name: str = "output"
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class _ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JsonSchemaSpec | None = None


class _StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionBody(BaseModel):
    """The subset of OpenAI's chat-completion request this server honours."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[_Message] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    n: int | None = Field(default=None, ge=1)
    stream: bool | None = None
    stream_options: _StreamOptions | None = None
    response_format: _ResponseFormat | None = None
    stop: Any = None
    tools: Any = None
    logprobs: bool | None = None

    @model_validator(mode="after")
    def _supported(self) -> ChatCompletionBody:
        if self.stop:
            raise ValueError("stop sequences are not supported")
        if self.tools:
            raise ValueError("tools are not supported")
        if self.logprobs:
            raise ValueError("logprobs are not supported")
        rf = self.response_format
        if (
            rf is not None
            and rf.type == "json_schema"
            and (rf.json_schema is None or rf.json_schema.schema_ is None)
        ):
            raise ValueError("response_format json_schema needs json_schema.schema")
        return self


def to_chat_request(body: ChatCompletionBody, default_max_tokens: int) -> ChatRequest:
    schema: dict[str, Any] | None = None
    name = "output"
    rf = body.response_format
    if rf is not None and rf.type == "json_object":
        schema = {"type": "object"}
    elif rf is not None and rf.type == "json_schema" and rf.json_schema is not None:
        schema, name = rf.json_schema.schema_, rf.json_schema.name
    role = {"developer": "system"}
    return ChatRequest(
        messages=tuple((role.get(m.role, m.role), m.text()) for m in body.messages),
        sampling=Sampling(
            temperature=1.0 if body.temperature is None else body.temperature,
            top_p=1.0 if body.top_p is None else body.top_p,
            frequency_penalty=body.frequency_penalty,
            presence_penalty=body.presence_penalty,
            max_tokens=body.max_completion_tokens or body.max_tokens or default_max_tokens,
            seed=body.seed,
        ),
        json_schema=schema,
        schema_name=name,
    )


def choice_requests(request: ChatRequest, n: int) -> list[ChatRequest]:
    """The ``n`` requests of one completion: choice ``i`` uses ``seed + i`` (no seed: none)."""
    seed = request.sampling.seed
    return [
        replace(
            request, sampling=replace(request.sampling, seed=None if seed is None else seed + i)
        )
        for i in range(n)
    ]


def _error_body(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=status, content=_error_body(message, kind))


def _usage(replies: list[ChatResponse]) -> dict[str, int]:
    """Usage of ``n`` choices of one prompt: the prompt counted once, every reply's tokens."""
    prompt = max((r.prompt_tokens for r in replies), default=0)
    completion = sum(r.completion_tokens for r in replies)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def _pieces(backend: Backend, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
    if isinstance(backend, StreamingBackend):
        async for piece in backend.chat_stream(request):
            yield piece
        return
    reply = await backend.chat(request)
    if reply.text:
        yield reply.text
    yield reply


async def _events(
    backend: Backend, requests: list[ChatRequest], head: dict[str, Any], include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    """The chunks of a streamed completion, choices interleaved as their pieces arrive."""
    queue: asyncio.Queue[tuple[int, str | ChatResponse | BaseException]] = asyncio.Queue()

    async def pump(index: int, request: ChatRequest) -> None:
        try:
            async for piece in _pieces(backend, request):
                await queue.put((index, piece))
        except Exception as e:  # handed to the consumer, which ends the stream with it
            await queue.put((index, e))

    tasks = [asyncio.create_task(pump(i, r)) for i, r in enumerate(requests)]
    extra = {"usage": None} if include_usage else {}
    started: set[int] = set()
    replies: list[ChatResponse] = []
    try:
        while len(replies) < len(requests):
            index, piece = await queue.get()
            if isinstance(piece, BaseException):
                raise piece
            if isinstance(piece, ChatResponse):
                replies.append(piece)
                delta: dict[str, Any] = {} if index in started else {"role": "assistant"}
                finish: str | None = piece.finish_reason
            else:
                delta = {"content": piece}
                if index not in started:
                    delta = {"role": "assistant", **delta}
                finish = None
            started.add(index)
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            yield {**head, "choices": [choice], **extra}
    finally:
        for t in tasks:
            t.cancel()
    if include_usage:
        yield {**head, "choices": [], "usage": _usage(replies)}


async def _sse(first: dict[str, Any], rest: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    yield f"data: {json.dumps(first)}\n\n"
    try:
        async for event in rest:
            yield f"data: {json.dumps(event)}\n\n"
    except LLMError as e:
        kind = "server_error" if isinstance(e, TransientError) else "invalid_request_error"
        yield f"data: {json.dumps(_error_body(str(e), kind))}\n\n"
    yield "data: [DONE]\n\n"


def create_app(
    backend: Backend,
    model_name: str,
    default_max_tokens: int = 4096,
    max_n: int = DEFAULT_MAX_N,
) -> Any:
    """The FastAPI app serving ``backend`` under ``model_name``; it closes the backend on shutdown.

    ``max_n``: the largest ``n`` (choices per request) it answers; above it, a 400."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import StreamingResponse
    from starlette.exceptions import HTTPException

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await backend.aclose()

    app = FastAPI(title="humanllm serve-model", lifespan=lifespan)
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Any:
        parts = []
        for e in exc.errors():
            if e.get("type") == "json_invalid":
                return _error(
                    400, f"the request body is not valid JSON: {e.get('ctx', {}).get('error', '')}"
                )
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return _error(400, "; ".join(parts) or "invalid request")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Any:
        return _error(
            exc.status_code,
            str(exc.detail),
            "not_found_error" if exc.status_code == 404 else "invalid_request_error",
        )

    @app.exception_handler(PermanentError)
    async def _permanent(_: Request, exc: PermanentError) -> Any:
        return _error(400, str(exc))

    @app.exception_handler(TransientError)
    async def _transient(_: Request, exc: TransientError) -> Any:
        return _error(503, str(exc), "server_error")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        entry = {"id": model_name, "object": "model", "created": created, "owned_by": "humanllm"}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionBody) -> Any:
        n = body.n or 1
        if n > max_n:
            return _error(400, f"n={n} is above this server's limit of {max_n} (--max-n)")
        requests = choice_requests(to_chat_request(body, default_max_tokens), n)
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "model": model_name,
            "system_fingerprint": backend.model_id,
        }
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            events = _events(
                backend, requests, {**head, "object": "chat.completion.chunk"}, include_usage
            )
            first = await anext(events)  # a failure before any output is still a plain HTTP error
            return StreamingResponse(
                _sse(first, events),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        replies = await asyncio.gather(*(backend.chat(r) for r in requests))
        return {
            **head,
            "object": "chat.completion",
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
                for i, reply in enumerate(replies)
            ],
            "usage": _usage(list(replies)),
        }

    return app


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise PermanentError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def serve(
    model_path: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    n_parallel: int = 1,
    n_ctx: int = 4096,
    log_level: str = "warning",
    max_n: int = DEFAULT_MAX_N,
) -> None:
    """Load the GGUF (default: the embedded model) and serve it until interrupted."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise PermanentError(
            f"serve-model needs fastapi and uvicorn ({e}): pip install 'humanllm[serve]'"
        ) from e
    from humanllm.llm.llamacpp import LlamaCppBackend

    _check_port(host, port)
    backend = LlamaCppBackend(
        LlamaCppBackendConfig(model_path=model_path, n_parallel=n_parallel, n_ctx=n_ctx)
    )
    name = backend.model_path.stem
    app = create_app(backend, name, default_max_tokens=n_ctx, max_n=max_n)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"serving {name} at http://{shown}:{port}/v1 "
        f"({n_parallel} parallel x {backend.threads_per_instance} threads, n_ctx {n_ctx}); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: {host} is reachable from other machines and there is no authentication",
            file=sys.stderr,
        )
    uvicorn.run(app, host=host, port=port, log_level=log_level)
