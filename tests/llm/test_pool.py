"""The openai backend over a pool of loopback servers (``base_urls``): least-outstanding balancing,
the per-server cap, a server killed mid-run and started again, and servers that do not answer."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from humanllm.llm.base import ChatRequest, OutageError, Sampling, TransientError
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import OpenAIBackendConfig
from humanllm.llm.openai_backend import OpenAIBackend
from humanllm.llm.runner import RunOutcome, arun_llm

from .pool_stub import ThreadStub
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
from .stub_server import answer_for

POOL_LOG = "humanllm.llm.pool"


@pytest.fixture
def stubs() -> Iterator[Callable[..., list[ThreadStub]]]:
    made: list[ThreadStub] = []

    def make(*latencies: float, cap: int | None = None) -> list[ThreadStub]:
        new = [ThreadStub(latency=s, cap=cap).start() for s in latencies]
        made.extend(new)
        return new

    yield make
    for s in made:
        s.close()


def pooled(urls: list[str], **kw: Any) -> OpenAIBackend:
    cfg: dict[str, Any] = {
        "base_urls": urls,
        "model": "stub-model",
        "timeout_s": 5.0,
        "endpoint_backoff_s": 0.05,
        "endpoint_backoff_max_s": 0.2,
    }
    return OpenAIBackend(OpenAIBackendConfig(**(cfg | kw)))


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    return f"http://127.0.0.1:{port}/v1"


def request(i: int) -> ChatRequest:
    return ChatRequest((("system", "s"), ("user", f"question {i}")), Sampling(seed=i))


async def ask_all(backend: OpenAIBackend, n: int, concurrency: int) -> list[str]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with sem:
            return (await backend.chat(request(i))).text

    try:
        return await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await backend.aclose()


def expected(i: int) -> dict[str, Any]:
    return answer_for([{"role": "user", "content": f"question {i}"}])


# --- configuration ---------------------------------------------------------------------------
def test_one_base_url_is_a_pool_of_one_and_dumps_as_before() -> None:
    one = OpenAIBackendConfig(base_url="http://a:1/v1", model="m")
    assert one.urls == ["http://a:1/v1"]
    # the dump (and so every stage's config hash) of a one-server config has no pool keys
    assert set(one.model_dump(mode="json")) == {
        "kind",
        "base_url",
        "model",
        "api_key_env",
        "timeout_s",
        "json_schema",
    }
    assert OpenAIBackend(one).endpoint == "http://a:1/v1"


def test_base_urls_config() -> None:
    pool = OpenAIBackendConfig(base_urls=["http://a:1/v1", "http://b:1/v1"], model="m")
    assert pool.urls == ["http://a:1/v1", "http://b:1/v1"] and pool.base_url == "http://a:1/v1"
    again = OpenAIBackendConfig.model_validate(pool.model_dump(mode="json"))
    assert again == pool  # the resolved config.yaml loads back to the same pool
    name = OpenAIBackend(pool).endpoint
    assert "pool of 2" in name and "http://a:1/v1" in name and "http://b:1/v1" in name
    both = OpenAIBackendConfig(base_url="http://b:1/v1", base_urls=pool.urls, model="m")
    assert both.urls == pool.urls  # consistent: base_url is one of them
    with pytest.raises(pydantic.ValidationError, match="not both"):
        OpenAIBackendConfig(base_url="http://c:1/v1", base_urls=pool.urls, model="m")
    with pytest.raises(pydantic.ValidationError, match="more than once"):
        OpenAIBackendConfig(base_urls=["http://a:1/v1", "http://a:1/v1/"], model="m")
    with pytest.raises(pydantic.ValidationError):
        OpenAIBackendConfig(base_urls=[], model="m")


# --- balancing -------------------------------------------------------------------------------
def test_requests_go_to_the_least_busy_server(stubs: Callable[..., list[ThreadStub]]) -> None:
    slow, *fast = stubs(1.0, 0.02, 0.02, 0.02)
    backend = pooled([slow.url, *(s.url for s in fast)])
    texts = asyncio.run(ask_all(backend, 120, concurrency=12))
    assert [Echo.model_validate_json(t).model_dump() for t in texts] == [
        expected(i) for i in range(120)
    ]
    assert slow.total + sum(s.total for s in fast) == 120
    assert min(s.total for s in fast) > 0 and slow.total > 0  # all four are used
    # in flight evens out, so a server 50 times slower answers far fewer (turn by turn: 30 each)
    assert 2 * slow.total < min(s.total for s in fast)


def test_no_server_gets_more_than_its_cap(stubs: Callable[..., list[ThreadStub]]) -> None:
    servers = stubs(0.03, 0.03, 0.03, 0.03)
    backend = pooled([s.url for s in servers], max_concurrency_per_endpoint=3)
    texts = asyncio.run(ask_all(backend, 160, concurrency=40))
    assert len(texts) == 160 and sum(s.total for s in servers) == 160
    seen = [s.max_in_flight for s in servers]
    assert max(seen) == 3 and all(m <= 3 for m in seen), seen  # 40 waiting: the cap is reached


# --- a server killed mid-run ---------------------------------------------------------------
async def run_echo(
    backend: OpenAIBackend, items: list[dict[str, Any]], cache_dir: Path
) -> RunOutcome[Echo]:
    with RequestCache.in_run(cache_dir) as cache:
        try:
            return await arun_llm(
                items,
                render=render_item,
                schema=Echo,
                backend=backend,
                cache=cache,
                stage=STAGE,
                prompt_version=TEMPLATE.id,
                sampling=SAMPLING,
                runner_cfg=fast_runner(max_concurrency=16, max_retries=2),
                progress=False,
            )
        finally:
            await backend.aclose()


def test_a_server_killed_mid_run_and_restarted(
    stubs: Callable[..., list[ThreadStub]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    servers = stubs(0.01, 0.01, 0.01, 0.01)
    victim, others = servers[1], [servers[0], *servers[2:]]
    items = make_items(200)
    reference = asyncio.run(
        run_echo(OpenAIBackend(openai_cfg(servers[0].url)), items, tmp_path / "ref")
    )
    assert len(reference.results) == 200
    before = [s.total for s in servers]
    events: dict[str, int] = {}

    async def chaos() -> RunOutcome[Echo]:
        backend = pooled([s.url for s in servers], max_concurrency_per_endpoint=4)
        run = asyncio.create_task(run_echo(backend, items, tmp_path / "run"))

        def answered_by_others() -> int:
            return sum(s.total for s in others)

        async def until(cond: Callable[[], bool]) -> None:
            while not cond() and not run.done():
                await asyncio.sleep(0.002)

        await until(lambda: victim.total - before[1] >= 10)
        await asyncio.to_thread(victim.stop)  # really gone: the port refuses connections
        events["killed_at"] = answered_by_others()
        await until(lambda: answered_by_others() >= events["killed_at"] + 50)
        await asyncio.to_thread(victim.start)  # same port
        events["restarted"] = victim.total
        return await run

    with caplog.at_level(logging.WARNING, logger=POOL_LOG):
        outcome = asyncio.run(chaos())
    assert "restarted" in events, "the run ended before the restart: make it longer"
    assert outcome.results == reference.results and not outcome.rejects  # identical, none lost
    assert outcome.summary.retries == 0  # the killed server's requests went to the others
    assert victim.total > events["restarted"]  # back in the pool after its restart
    logged = [r.getMessage() for r in caplog.records if r.name == POOL_LOG]
    assert any(victim.url in m and "taken out" in m for m in logged), logged
    assert any(victim.url in m and "back in the pool" in m for m in logged), logged
    assert not any(s.url in m for s in others for m in logged)  # the others were never out


# --- servers that do not answer --------------------------------------------------------------
def test_no_server_answering_at_start_is_a_clear_error(tmp_path: Path) -> None:
    urls = [closed_port_url() for _ in range(3)]
    with pytest.raises(OutageError) as e:
        asyncio.run(pooled(urls).check())
    assert all(u in str(e.value) for u in urls) and "/models" in str(e.value)
    assert str(e.value).count("Connection error") == 3, str(e.value)  # each URL with its error

    with pytest.raises(TransientError) as t:  # on first use, without an explicit check
        asyncio.run(pooled(urls).chat(request(0)))
    assert all(u in str(t.value) for u in urls) and "every server of the pool is out" in str(
        t.value
    )

    with pytest.raises(OutageError) as o:  # through the runner: the stage stops, naming them
        asyncio.run(run_echo(pooled(urls), make_items(4), tmp_path / "down"))
    assert all(u in str(o.value) for u in urls) and "4 of 4 records" in str(o.value)


def test_a_server_down_at_start_is_reported_and_kept_out(
    stubs: Callable[..., list[ThreadStub]], caplog: pytest.LogCaptureFixture
) -> None:
    live = stubs(0.0, 0.0)
    dead = closed_port_url()
    backend = pooled(
        [live[0].url, dead, live[1].url], endpoint_backoff_s=30.0, endpoint_backoff_max_s=30.0
    )
    with caplog.at_level(logging.WARNING):
        results = asyncio.run(backend.check())
        texts = asyncio.run(ask_all(backend, 20, concurrency=4))
    assert dict(results)[dead] is not None
    assert dict(results)[live[0].url] is None and dict(results)[live[1].url] is None
    assert [Echo.model_validate_json(t).model_dump() for t in texts] == [
        expected(i) for i in range(20)
    ]
    assert live[0].total + live[1].total == 20  # none went to the dead one, kept in back-off
    warned = [r.getMessage() for r in caplog.records if dead in r.getMessage()]
    assert any("does not answer at start" in m for m in warned), warned
