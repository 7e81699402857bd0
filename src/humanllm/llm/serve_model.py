"""An OpenAI-compatible HTTP server over a GGUF model (default: the embedded model).

``GET /v1/models`` and ``POST /v1/chat/completions`` with ``messages``, ``temperature``,
``top_p``, ``max_tokens`` (or ``max_completion_tokens``), ``seed``, ``n=1`` and
``response_format`` ``{"type": "json_schema", "json_schema": {"name", "schema"}}`` or
``{"type": "json_object"}``, both decoded under a grammar, so the reply is JSON of that shape.
Errors come back in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``: 400 for a
bad request, 404 for an unknown path, 503 for a transient failure. Requests are served by a
:class:`~humanllm.llm.llamacpp.LlamaCppBackend`, ``n_parallel`` at a time; the rest queue.
The server has no authentication: it binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from humanllm.llm.base import Backend, ChatRequest, PermanentError, Sampling, TransientError
from humanllm.llm.config import LlamaCppBackendConfig


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
    n: int | None = None
    stream: bool | None = None
    response_format: _ResponseFormat | None = None
    stop: Any = None
    tools: Any = None
    logprobs: bool | None = None

    @model_validator(mode="after")
    def _supported(self) -> ChatCompletionBody:
        if self.n not in (None, 1):
            raise ValueError("only n=1 is supported")
        if self.stream:
            raise ValueError("streaming is not supported: send stream=false")
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


def _error(status: int, message: str, kind: str = "invalid_request_error") -> Any:
    from fastapi.responses import JSONResponse

    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(status_code=status, content=body)


def create_app(backend: Backend, model_name: str, default_max_tokens: int = 4096) -> Any:
    """The FastAPI app serving ``backend`` under ``model_name``; it closes the backend on shutdown."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
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
    async def chat_completions(body: ChatCompletionBody) -> dict[str, Any]:
        reply = await backend.chat(to_chat_request(body, default_max_tokens))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "system_fingerprint": backend.model_id,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            },
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
    app = create_app(backend, name, default_max_tokens=n_ctx)
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
