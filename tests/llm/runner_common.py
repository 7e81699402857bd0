"""Shared pieces of the LLM runner tests (also imported by ``kill_worker.py`` as a plain module)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import BaseModel

from humanllm.llm.base import ChatRequest, ChatResponse, Sampling
from humanllm.llm.cache import KeyBuilder
from humanllm.llm.config import OpenAIBackendConfig, RunnerConfig
from humanllm.llm.prompts import Messages, load_template
from humanllm.llm.replies import derive_seed

try:  # imported as tests.llm.runner_common by pytest, as a plain module by kill_worker.py
    from .stub_server import stub_key
except ImportError:
    from stub_server import stub_key  # type: ignore[no-redef]

TEMPLATE = load_template(Path(__file__).parent / "data" / "echo.v1.txt")
STAGE = "echo"
SAMPLING = Sampling(temperature=0.7, top_p=0.95, max_tokens=64)


class Echo(BaseModel):
    digest: str
    chars: int


def make_items(n: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i:05d}",
            "user": f"u{i % 7}",
            "text": f"post number {i}: " + "lorem " * (i % 13),
        }
        for i in range(n)
    ]


def render_item(item: dict[str, Any]) -> Messages:
    return TEMPLATE.render(user=item["user"], text=item["text"])


def openai_cfg(url: str, timeout_s: float = 10.0) -> OpenAIBackendConfig:
    return OpenAIBackendConfig(base_url=url, model="stub-model", timeout_s=timeout_s)


def fast_runner(**kw: Any) -> RunnerConfig:
    base: dict[str, Any] = {"max_concurrency": 8, "backoff_base_s": 0.01, "backoff_max_s": 0.2}
    return RunnerConfig(**(base | kw))


def cache_and_stub_keys(
    items: list[dict[str, Any]], model_id: str, attempts: int = 1
) -> dict[str, str]:
    """cache key -> stub key of every (item, attempt) request the runner makes for ``items``."""
    builder = KeyBuilder(model_id, Echo.model_json_schema(), "Echo", TEMPLATE.id)
    out = {}
    for item in items:
        msgs = render_item(item)
        for attempt in range(attempts):
            seed = derive_seed(item["id"], STAGE, attempt, SAMPLING.seed)
            sampling = Sampling(SAMPLING.temperature, SAMPLING.top_p, SAMPLING.max_tokens, seed)
            out[builder.key(msgs, sampling)] = stub_key(msgs, seed)
    return out


Reply: TypeAlias = str | ChatResponse | BaseException


class FakeBackend:
    """A tiny scripted backend: ``reply(request, n)`` gives the n-th reply (0-based) for a record.

    The record is recognised by its user message, so replies can depend on the attempt number."""

    def __init__(
        self,
        reply: Callable[[ChatRequest, int], Reply],
        *,
        model_id: str = "fake",
        delay: float = 0.0,
    ) -> None:
        self.reply = reply
        self._model_id = model_id
        self.delay = delay
        self.calls: Counter[str] = Counter()
        self.requests: list[ChatRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    async def chat(self, request: ChatRequest) -> ChatResponse:
        user = request.messages[-1][1]
        n = self.calls[user]
        self.calls[user] += 1
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            out = self.reply(request, n)
        finally:
            self.in_flight -= 1
        if isinstance(out, BaseException):
            raise out
        if isinstance(out, str):
            return ChatResponse(
                text=out, prompt_tokens=10, completion_tokens=5, model=self._model_id
            )
        return out

    async def aclose(self) -> None:
        return None
