"""The scripted backend, for unit tests only: replies come from a list or a function.

It records every request it sees and can inject :class:`~humanllm.llm.base.TransientError`s,
either a fixed number of times per distinct request or at a seeded rate; both are decided per
(request, attempt), so which calls fail does not depend on the order concurrent calls arrive in.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence

from humanllm.llm.base import ChatRequest, ChatResponse, PermanentError, TransientError
from humanllm.llm.config import ScriptedBackendConfig

Reply = str | ChatResponse | BaseException
Script = Sequence[Reply] | Callable[[ChatRequest], Reply]


def request_key(request: ChatRequest) -> str:
    """A stable identity of a request (messages, sampling, schema): attempts of it share the key."""
    payload = [request.messages, request.sampling.key(), request.json_schema, request.schema_name]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class ScriptedBackend:
    """A backend whose replies are scripted.

    ``replies``: a list handed out in order (one per answered call; :class:`PermanentError` once
    exhausted), or a function of the request. Each reply is a string (returned with
    ``finish_reason="stop"`` and word counts as token counts), a :class:`ChatResponse` (returned as
    is) or an exception (raised). Default: echo the last message.
    ``transient_failures``: each distinct request fails that many times before it is answered.
    ``fault_rate``: each call fails with this probability, drawn from ``seed``, the request and
    its attempt number. ``delay_s``: simulated latency per call.
    """

    def __init__(
        self,
        replies: Script | None = None,
        *,
        model_id: str = "scripted",
        transient_failures: int = 0,
        fault_rate: float = 0.0,
        seed: int = 0,
        delay_s: float = 0.0,
    ) -> None:
        if not 0.0 <= fault_rate < 1.0:
            raise ValueError("fault_rate must be in [0, 1)")
        self._replies = replies
        self._next = 0
        self._model_id = model_id
        self.transient_failures = transient_failures
        self.fault_rate = fault_rate
        self.seed = seed
        self.delay_s = delay_s
        self.requests: list[ChatRequest] = []  # every request seen, failed ones included
        self.attempts: Counter[str] = Counter()  # calls per request_key
        self.injected = 0  # TransientErrors injected
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = False

    @classmethod
    def from_config(
        cls, cfg: ScriptedBackendConfig, replies: Script | None = None
    ) -> ScriptedBackend:
        return cls(replies, model_id=cfg.name)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _fault(self, key: str, attempt: int) -> bool:
        if attempt < self.transient_failures:
            return True
        if self.fault_rate <= 0.0:
            return False
        digest = hashlib.sha256(f"{self.seed}:{key}:{attempt}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64 < self.fault_rate

    def _reply(self, request: ChatRequest) -> Reply:
        if self._replies is None:
            return request.messages[-1][1] if request.messages else ""
        if callable(self._replies):
            return self._replies(request)
        if self._next >= len(self._replies):
            raise PermanentError(f"scripted backend: all {len(self._replies)} replies used up")
        reply = self._replies[self._next]
        self._next += 1
        return reply

    async def chat(self, request: ChatRequest) -> ChatResponse:
        if self.closed:
            raise PermanentError("scripted backend is closed")
        self.requests.append(request)
        key = request_key(request)
        attempt = self.attempts[key]
        self.attempts[key] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self._fault(key, attempt):
                self.injected += 1
                raise TransientError(f"scripted transient failure (attempt {attempt + 1})")
            out = self._reply(request)
        finally:
            self.in_flight -= 1
        if isinstance(out, BaseException):
            raise out
        if isinstance(out, ChatResponse):
            return out
        prompt_words = sum(len(content.split()) for _, content in request.messages)
        return ChatResponse(
            text=out,
            finish_reason="stop",
            prompt_tokens=prompt_words,
            completion_tokens=len(out.split()),
            model=self._model_id,
        )

    async def aclose(self) -> None:
        self.closed = True
