"""The scripted backend used by unit tests."""

import asyncio

import pytest

from humanllm.llm.base import (
    Backend,
    ChatRequest,
    ChatResponse,
    PermanentError,
    Sampling,
    TransientError,
)
from humanllm.llm.config import ScriptedBackendConfig
from humanllm.llm.scripted import ScriptedBackend


def req(text: str, seed: int = 0) -> ChatRequest:
    return ChatRequest(
        messages=(("system", "be brief"), ("user", text)), sampling=Sampling(seed=seed)
    )


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_list_replies_in_order_then_exhausted() -> None:
    b = ScriptedBackend(
        ["one two", ChatResponse(text="x", finish_reason="length"), ValueError("boom")],
        model_id="m",
    )
    assert isinstance(b, Backend) and b.model_id == "m"
    r = run(b.chat(req("a")))
    assert (r.text, r.finish_reason, r.completion_tokens, r.prompt_tokens, r.model) == (
        "one two",
        "stop",
        2,
        3,
        "m",
    )
    assert run(b.chat(req("b"))).finish_reason == "length"
    with pytest.raises(ValueError, match="boom"):
        run(b.chat(req("c")))
    with pytest.raises(PermanentError, match="used up"):
        run(b.chat(req("d")))
    assert [r.messages[-1][1] for r in b.requests] == ["a", "b", "c", "d"]


def test_callable_and_default_echo() -> None:
    b = ScriptedBackend(lambda r: r.messages[-1][1].upper())
    assert run(b.chat(req("hey"))).text == "HEY"
    assert run(ScriptedBackend().chat(req("same"))).text == "same"
    cfg = ScriptedBackendConfig(name="judge")
    assert ScriptedBackend.from_config(cfg).model_id == "judge"


def test_transient_failures_per_distinct_request() -> None:
    b = ScriptedBackend(lambda r: "ok", transient_failures=2)

    async def retrying(r: ChatRequest) -> tuple[str, int]:
        for attempt in range(5):
            try:
                return (await b.chat(r)).text, attempt
            except TransientError:
                continue
        raise AssertionError("never answered")

    async def all_three() -> list[tuple[str, int]]:
        return list(
            await asyncio.gather(retrying(req("a")), retrying(req("b")), retrying(req("a", seed=1)))
        )

    results = run(all_three())
    assert results == [("ok", 2), ("ok", 2), ("ok", 2)]
    assert b.injected == 6 and b.calls == 9


def test_fault_rate_is_seeded_and_order_independent() -> None:
    def failures(order: list[int], seed: int) -> set[int]:
        b = ScriptedBackend(fault_rate=0.3, seed=seed)
        failed = set()
        for i in order:
            try:
                run(b.chat(req(f"q{i}")))
            except TransientError:
                failed.add(i)
        return failed

    ids = list(range(200))
    first = failures(ids, seed=7)
    assert first == failures(ids[::-1], seed=7)
    assert 30 < len(first) < 90
    assert first != failures(ids, seed=8)


def test_records_concurrency_and_closes() -> None:
    b = ScriptedBackend(delay_s=0.02)

    async def many() -> None:
        await asyncio.gather(*(b.chat(req(str(i))) for i in range(5)))
        await b.aclose()

    run(many())
    assert b.max_in_flight == 5 and b.in_flight == 0
    with pytest.raises(PermanentError, match="closed"):
        run(b.chat(req("late")))
    with pytest.raises(ValueError):
        ScriptedBackend(fault_rate=1.0)
