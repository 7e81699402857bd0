"""The openai backend against a loopback stub server: error mapping, and 20% injected faults
(429, 500, hangs past the time-out, garbled and truncated JSON) that must not change the output."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from humanllm.llm.backends import make_backend
from humanllm.llm.base import ChatRequest, PermanentError, Sampling, TransientError
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import OpenAIBackendConfig
from humanllm.llm.openai_backend import OpenAIBackend, retry_after_seconds
from humanllm.llm.runner import RunOutcome, run_llm

from .runner_common import (
    SAMPLING,
    STAGE,
    TEMPLATE,
    Echo,
    fast_runner,
    make_items,
    openai_cfg,
    render_item,
)
from .stub_server import FAULTS, StubProcess, answer_for


@pytest.fixture(scope="module")
def clean_stub() -> Iterator[StubProcess]:
    with StubProcess(hang_s=3.0) as stub:
        yield stub


def ask(backend: OpenAIBackend, text: str, **kw: Any) -> Any:
    req = ChatRequest(
        (("system", "s"), ("user", text)), Sampling(seed=3), Echo.model_json_schema(), "Echo", **kw
    )
    return asyncio.run(backend.chat(req))


def test_request_body() -> None:
    req = ChatRequest((("user", "hi"),), Sampling(0.2, 0.9, 33, 5), {"type": "object"}, "Out")
    body = OpenAIBackend(OpenAIBackendConfig(model="m")).request_kwargs(req)
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 33,
        "seed": 5,
        "extra_body": {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "Out", "schema": {"type": "object"}, "strict": True},
            }
        },
    }
    plain = OpenAIBackend(OpenAIBackendConfig(model="m", json_schema=False))
    assert "extra_body" not in plain.request_kwargs(req)


def test_api_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMANLLM_TEST_KEY", "sk-test")
    assert (
        OpenAIBackend(OpenAIBackendConfig(model="m", api_key_env="HUMANLLM_TEST_KEY"))._key
        == "sk-test"
    )
    monkeypatch.delenv("HUMANLLM_TEST_KEY")
    with pytest.raises(ValueError, match="HUMANLLM_TEST_KEY"):
        OpenAIBackend(OpenAIBackendConfig(model="m", api_key_env="HUMANLLM_TEST_KEY"))


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_seconds(None) is None


def test_reply_usage_and_finish_reason(clean_stub: StubProcess) -> None:
    backend = make_backend(openai_cfg(clean_stub.url))
    assert isinstance(backend, OpenAIBackend) and backend.model_id == "openai:stub-model"
    resp = ask(backend, "hello")
    assert Echo.model_validate_json(resp.text) == Echo(
        **answer_for([{"role": "user", "content": "hello"}])
    )
    assert resp.finish_reason == "stop" and resp.prompt_tokens > 0 and resp.completion_tokens > 0
    assert resp.model == "stub-model"
    before = clean_stub.stats()["strict_schema"]
    ask(backend, "again: a second event loop gets its own client")
    assert clean_stub.stats()["strict_schema"] == before + 1  # response_format reached the server


@pytest.mark.parametrize(
    "code, kind",
    [
        (429, TransientError),
        (500, TransientError),
        (503, TransientError),
        (400, PermanentError),
        (404, PermanentError),
        (422, PermanentError),
    ],
)
def test_status_mapping(clean_stub: StubProcess, code: int, kind: type[Exception]) -> None:
    with pytest.raises(kind, match=f"HTTP {code}") as info:
        ask(OpenAIBackend(openai_cfg(clean_stub.url)), f"FORCE_STATUS={code}")
    if code == 429:
        assert info.value.retry_after == pytest.approx(0.005)  # type: ignore[attr-defined]


@pytest.mark.parametrize("marker", ["FORCE_BADBODY", "FORCE_NOCHOICES"])
def test_broken_200_bodies_are_transient(clean_stub: StubProcess, marker: str) -> None:
    with pytest.raises(TransientError):
        ask(OpenAIBackend(openai_cfg(clean_stub.url)), marker)


def test_timeout_and_connection_errors_are_transient(clean_stub: StubProcess) -> None:
    with pytest.raises(TransientError, match="time-out"):
        ask(OpenAIBackend(openai_cfg(clean_stub.url, timeout_s=0.3)), "FORCE_HANG")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(TransientError, match="connection"):
        ask(OpenAIBackend(openai_cfg(f"http://127.0.0.1:{port}/v1")), "hi")


def _run(url: str, cache_dir: Path, timeout_s: float) -> RunOutcome[Echo]:
    backend = make_backend(openai_cfg(url, timeout_s=timeout_s))
    with RequestCache.in_run(cache_dir) as cache:
        return run_llm(
            make_items(150),
            render=render_item,
            schema=Echo,
            backend=backend,
            cache=cache,
            stage=STAGE,
            prompt_version=TEMPLATE.id,
            sampling=SAMPLING,
            runner_cfg=fast_runner(max_concurrency=24, max_invalid_retries=4, max_retries=8),
            progress=False,
        )


def test_faults_do_not_change_the_output(clean_stub: StubProcess, tmp_path: Path) -> None:
    reference = _run(clean_stub.url, tmp_path / "clean", timeout_s=10.0)
    assert len(reference.results) == 150 and not reference.rejects
    with StubProcess(fault_rate=0.2, hang_s=2.0) as faulty:
        out = _run(faulty.url, tmp_path / "faulty", timeout_s=0.7)
        stats = faulty.stats()
    assert set(stats["faults"]) == set(FAULTS), stats["faults"]
    assert sum(stats["faults"].values()) >= 25
    assert not out.rejects
    assert list(out.results) == list(reference.results)
    assert {k: v.model_dump() for k, v in out.results.items()} == {
        k: v.model_dump() for k, v in reference.results.items()
    }
    s = out.summary
    assert s.retries > 0 and s.invalid_retries > 0
    assert s.requests == 150 + s.retries + s.invalid_retries
    # the stub saw every request but those the client gave up on before the stub read them (a
    # time-out while the machine is loaded): never more than were sent
    assert s.requests - s.retries <= stats["total"] <= s.requests
