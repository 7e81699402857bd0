"""The runner with a scripted backend: verdicts, retries, seeds, the cache, accounting, output."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pydantic import BaseModel

from humanllm.llm.base import ChatRequest, ChatResponse, OutageError, PermanentError, TransientError
from humanllm.llm.cache import RequestCache
from humanllm.llm.outputs import write_outcome
from humanllm.llm.progress import LiveProgress, RunSummary
from humanllm.llm.ratelimit import TokenBucket
from humanllm.llm.replies import derive_seed
from humanllm.llm.runner import RunOutcome, arun_llm, run_llm
from humanllm.runfolder import RunFolder

from .runner_common import (
    SAMPLING,
    STAGE,
    TEMPLATE,
    Echo,
    FakeBackend,
    fast_runner,
    make_items,
    render_item,
)


def good(req: ChatRequest, n: int = 0) -> str:
    text = req.messages[-1][1]
    return json.dumps({"digest": str(len(text)), "chars": len(text)})


def run(
    items: list[dict[str, Any]], backend: FakeBackend, cache: RequestCache, **kw: Any
) -> RunOutcome[Echo]:
    args: dict[str, Any] = {
        "render": render_item,
        "schema": Echo,
        "backend": backend,
        "cache": cache,
        "stage": STAGE,
        "prompt_version": TEMPLATE.id,
        "sampling": SAMPLING,
        "runner_cfg": fast_runner(),
        "progress": False,
    }
    return run_llm(items, **(args | kw))


@pytest.fixture
def cache(tmp_path: Path):  # type: ignore[no-untyped-def]
    with RequestCache.in_run(tmp_path) as c:
        yield c


def accounted(outcome: RunOutcome[Any], items: list[dict[str, Any]]) -> None:
    ids = [i["id"] for i in items]
    rej = [r.id for r in outcome.rejects]
    assert set(outcome.results).isdisjoint(rej)
    assert sorted([*outcome.results, *rej]) == sorted(ids)
    order = {k: n for n, k in enumerate(ids)}
    assert list(outcome.results) == sorted(outcome.results, key=order.__getitem__)
    assert rej == sorted(rej, key=order.__getitem__)


def test_valid_replies(cache: RequestCache) -> None:
    items = make_items(40)
    out = run(items, FakeBackend(good), cache)
    accounted(out, items)
    assert len(out.results) == 40 and not out.rejects
    assert out.results["r00003"].chars == len(render_item(items[3])[-1][1])
    s = out.summary.as_dict()
    assert s["requests"] == 40 and s["cache_hits"] == 0 and s["rejects"] == 0
    assert (s["tokens_in"], s["tokens_out"]) == (400, 200) and s["cost"] is None


@pytest.mark.parametrize(
    "bad, reason",
    [
        ('{"digest": "x", "chars": ', "llm.invalid_json"),
        ("I'm sorry, but I can't help with that request.", "llm.invalid_json"),
        ('{"digest": "x"}', "llm.schema"),
        ('{"digest": "x", "chars": "many"}', "llm.schema"),
        (ChatResponse(text='{"digest": "x", "ch', finish_reason="length"), "llm.truncated"),
        (ChatResponse(text="", finish_reason="content_filter"), "llm.refused"),
    ],
)
def test_invalid_reply_retried_with_new_seed_then_rejected(
    cache: RequestCache, bad: Any, reason: str
) -> None:
    items = make_items(3)
    backend = FakeBackend(lambda req, n: bad)
    out = run(items, backend, cache, runner_cfg=fast_runner(max_invalid_retries=2))
    accounted(out, items)
    assert not out.results and [r.reason for r in out.rejects] == [reason] * 3
    raw = bad if isinstance(bad, str) else bad.text
    assert all(r.raw_text == raw and r.attempts == 3 and r.error for r in out.rejects)
    assert out.summary.requests == 9 and out.summary.invalid_retries == 6
    seeds = [r.sampling.seed or 0 for r in backend.requests if r.messages == render_item(items[0])]
    assert sorted(seeds) == sorted(derive_seed("r00000", STAGE, a) for a in range(3))


def test_invalid_then_valid(cache: RequestCache) -> None:
    items = make_items(10)
    backend = FakeBackend(lambda req, n: "not json" if n < 2 else good(req))
    out = run(items, backend, cache)
    assert (
        len(out.results) == 10 and out.summary.invalid_retries == 20 and out.summary.requests == 30
    )


def test_validate_hook(cache: RequestCache) -> None:
    def check(obj: Echo, item: dict[str, Any]) -> None:
        if item["id"].endswith("3"):
            raise ValueError("digest disagrees with the record")

    out = run(make_items(10), FakeBackend(good), cache, validate=check)
    assert [r.id for r in out.rejects] == ["r00003"] and out.rejects[0].reason == "llm.validate"
    assert "digest disagrees" in out.rejects[0].error


def test_transient_errors_then_success_honours_retry_after(cache: RequestCache) -> None:
    def flaky(req: ChatRequest, n: int) -> Any:
        if n == 0:
            return TransientError("HTTP 429", retry_after=0.3)
        if n == 1:
            return TransientError("HTTP 500")
        return good(req)

    t0 = time.perf_counter()
    out = run(make_items(5), FakeBackend(flaky), cache)
    assert time.perf_counter() - t0 >= 0.3
    assert len(out.results) == 5 and out.summary.retries == 10 and out.summary.requests == 15


def test_transient_exhausted_and_permanent(cache: RequestCache) -> None:
    def reply(req: ChatRequest, n: int) -> Any:
        text = req.messages[-1][1]
        if "number 1:" in text:
            return TransientError("HTTP 503")
        if "number 2:" in text:
            return PermanentError("HTTP 400: bad request")
        return good(req)

    items = make_items(4)
    cfg = fast_runner(max_retries=3, max_transient_reject_share=1.0)  # allow the outage here
    out = run(items, FakeBackend(reply), cache, runner_cfg=cfg)
    accounted(out, items)
    reasons = {r.id: r.reason for r in out.rejects}
    assert reasons == {"r00001": "llm.transient_exhausted", "r00002": "llm.permanent"}
    assert out.summary.requests == 2 + 4 + 1 and out.summary.retries == 3
    assert out.summary.transient_rejects == 1
    cache.flush(10.0)
    statuses = {r.item_id: r.status for r in cache.replies()}
    assert statuses == {"r00000": "ok", "r00002": "permanent", "r00003": "ok"}  # no outage kept

    # by default, 1 of 4 records lost to an outage stops the call, naming the error
    with pytest.raises(OutageError, match=r"1 of 4 records .* HTTP 503"):
        run(items, FakeBackend(reply), cache, runner_cfg=fast_runner(max_retries=0))


def test_mixed_bag_nothing_lost_and_order_independent_of_completion(cache: RequestCache) -> None:
    rng = random.Random(7)
    kinds = ["ok", "json", "schema", "trunc", "perm", "flaky", "boom"]
    plan = {f"r{i:05d}": rng.choice(kinds) for i in range(120)}

    def reply(req: ChatRequest, n: int) -> Any:
        rid = next(k for k in plan if f"number {int(k[1:])}:" in req.messages[-1][1])
        kind = plan[rid]
        if kind == "ok" or (kind == "flaky" and n > 0):
            return good(req)
        return {
            "json": "nope",
            "schema": "{}",
            "trunc": ChatResponse(text="{", finish_reason="length"),
            "perm": PermanentError("HTTP 422"),
            "flaky": TransientError("HTTP 502"),
            "boom": RuntimeError("backend bug"),
        }[kind]

    backend = FakeBackend(reply, delay=0.002)
    items = make_items(120)
    rng.shuffle(items)
    out = run(items, backend, cache, runner_cfg=fast_runner(max_concurrency=16))
    accounted(out, items)
    assert backend.max_in_flight <= 16
    expected_ok = {k for k, v in plan.items() if v in ("ok", "flaky")}
    assert set(out.results) == expected_ok
    assert {r.reason for r in out.rejects} == {
        "llm.invalid_json", "llm.schema", "llm.truncated", "llm.permanent", "llm.error"
    }  # fmt: skip


def test_rerun_makes_zero_requests_and_reproduces_rejects(cache: RequestCache) -> None:
    def reply(req: ChatRequest, n: int) -> Any:
        text = req.messages[-1][1]
        if "number 4:" in text:
            return "never json"
        if "number 5:" in text:
            return PermanentError("HTTP 400")
        if "number 6:" in text and n == 0:
            return "{}"  # invalid first, valid on the second seed
        return good(req)

    items = make_items(30)
    first = run(items, FakeBackend(reply), cache)
    again = FakeBackend(reply)
    second = run(items, again, cache)
    assert again.requests == [] and second.summary.requests == 0
    assert second.summary.cache_hits == 30 + 3 + 1  # + the invalid attempts of r4 and r6
    assert second.results == first.results and second.rejects == first.rejects
    assert [r.id for r in second.rejects] == ["r00004", "r00005"]
    # retry_rejects re-asks only the records that ended as rejects
    healed = FakeBackend(good)
    third = run(items, healed, cache, retry_rejects=True)
    assert not third.rejects and len(third.results) == 30
    assert third.summary.requests == 2
    assert run(items, FakeBackend(good), cache).summary.requests == 0


def test_unexpected_backend_errors_are_not_cached(cache: RequestCache) -> None:
    items = make_items(3)
    run(items, FakeBackend(lambda r, n: RuntimeError("bug")), cache)
    out = run(items, FakeBackend(good), cache)
    assert out.summary.requests == 3 and len(out.results) == 3


def test_resume_asks_only_what_is_missing(cache: RequestCache) -> None:
    items = make_items(50)
    run(items[:20], FakeBackend(good), cache)
    backend = FakeBackend(good)
    out = run(items, backend, cache)
    assert len(backend.requests) == 30 and out.summary.cache_hits == 20 and len(out.results) == 50


def test_seeds_are_deterministic_and_depend_on_stage(tmp_path: Path) -> None:
    items = make_items(5)
    seeds = []
    for name in ("a", "b"):
        with RequestCache(tmp_path / f"{name}.sqlite") as c:
            backend = FakeBackend(good)
            run(items, backend, c)
            seeds.append([r.sampling.seed or 0 for r in backend.requests])
    assert (
        sorted(seeds[0])
        == sorted(seeds[1])
        == sorted(derive_seed(i["id"], STAGE, 0) for i in items)
    )
    assert derive_seed("r1", "a", 0) != derive_seed("r1", "b", 0) != derive_seed("r1", "b", 1)
    assert derive_seed("r1", "a", 0, base=1) != derive_seed("r1", "a", 0)


def test_duplicate_ids_and_running_loop_are_refused(cache: RequestCache) -> None:
    with pytest.raises(ValueError, match="duplicate id"):
        run([*make_items(2), *make_items(1)], FakeBackend(good), cache)

    async def inside() -> None:
        run(make_items(1), FakeBackend(good), cache)

    with pytest.raises(RuntimeError, match="arun_llm"):
        asyncio.run(inside())


def test_render_errors_propagate(cache: RequestCache) -> None:
    with pytest.raises(KeyError):
        run(make_items(3), FakeBackend(good), cache, render=lambda item: item["missing"])


def test_arun_and_rate_limit(cache: RequestCache) -> None:
    async def go() -> tuple[RunOutcome[Echo], float]:
        t0 = time.perf_counter()
        out = await arun_llm(
            make_items(40),
            render=render_item,
            schema=Echo,
            backend=FakeBackend(good),
            cache=cache,
            stage=STAGE,
            prompt_version=TEMPLATE.id,
            runner_cfg=fast_runner(requests_per_minute=1200, max_concurrency=64),
            progress=False,
        )
        return out, time.perf_counter() - t0

    out, wall = asyncio.run(go())
    assert len(out.results) == 40
    assert wall >= 0.8  # 20 at once (one second's burst), then 20 more at 20/s


def test_token_bucket_waits_and_allows_debt() -> None:
    now = [0.0]
    bucket = TokenBucket(10.0, 20.0, clock=lambda: now[0])
    assert bucket.wait_time(20) == 0
    asyncio.run(bucket.take(20))
    assert bucket.wait_time(5) == pytest.approx(0.5)
    now[0] = 2.0
    assert bucket.wait_time(100) == 0  # bigger than the bucket: waits for a full one
    asyncio.run(bucket.take(100))
    bucket.give(50)
    assert bucket.wait_time(20) == pytest.approx(
        5.0
    )  # 20 - 100 + 50 = 30 in debt, 20 needed, at 10/s
    with pytest.raises(ValueError):
        TokenBucket(0, 1)


def test_prices_give_a_cost_and_progress_renders(cache: RequestCache) -> None:
    out = run(
        make_items(10),
        FakeBackend(good),
        cache,
        runner_cfg=fast_runner(price_per_1k_input=1.0, price_per_1k_output=2.0),
    )
    assert out.summary.as_dict()["cost"] == pytest.approx((100 * 1.0 + 50 * 2.0) / 1000)
    from rich.console import Console

    buf = io.StringIO()
    summary = RunSummary(requests=10, tokens_out=50, results=10, price_per_1k_input=1.0)
    with LiveProgress(
        "echo", 10, summary, console=Console(file=buf, width=150, force_terminal=False)
    ) as bar:
        bar.advance(10)
    text = buf.getvalue()
    assert "10/10" in text and "req/s" in text and "tok/s" in text and "$" in text


def test_write_outcome(tmp_path: Path, cache: RequestCache) -> None:
    items = make_items(6)
    long_garbage = "x" * 10_000
    backend = FakeBackend(
        lambda req, n: long_garbage if "number 2:" in req.messages[-1][1] else good(req)
    )
    out = run(items, backend, cache, runner_cfg=fast_runner(max_invalid_retries=0))
    runfolder = RunFolder(tmp_path / "run")
    n_out, n_rej = write_outcome(
        runfolder, out, folder="echoed", stage="echo", shard="part-00000", source="test"
    )
    assert (n_out, n_rej) == (5, 1)
    df = pl.read_parquet(runfolder.stage_dir("echoed") / "part-00000.parquet")
    assert df.columns == ["record_id", "digest", "chars"] and df.height == 5
    rej = pl.read_parquet(runfolder.rejects_dir / "echo-part-00000.parquet")
    row = rej.row(0, named=True)
    assert (row["record_id"], row["reason"], row["stage"], row["source"]) == (
        "r00002",
        "llm.invalid_json",
        "echo",
        "test",
    )
    assert (
        "raw reply" in row["detail"]
        and "more chars" in row["detail"]
        and len(row["detail"]) <= 4000
    )


class Nested(BaseModel):
    tags: list[str]
    inner: Echo


def test_results_frame_nested_and_empty(tmp_path: Path, cache: RequestCache) -> None:
    reply = json.dumps({"tags": ["a", "b"], "inner": {"digest": "d", "chars": 1}})
    out = run(make_items(2), FakeBackend(lambda r, n: reply), cache, schema=Nested)
    runfolder = RunFolder(tmp_path / "run")
    write_outcome(runfolder, out, folder="nested", stage="nested", shard="p0")
    df = pl.read_parquet(runfolder.stage_dir("nested") / "p0.parquet")
    assert df["tags"].to_list() == [["a", "b"]] * 2 and df["inner"][0] == {
        "digest": "d",
        "chars": 1,
    }
    empty = run(
        make_items(2, prefix="e"),
        FakeBackend(lambda r, n: "no"),
        cache,
        runner_cfg=fast_runner(max_invalid_retries=0),
    )
    write_outcome(runfolder, empty, folder="empty", stage="empty", shard="p0")
    assert pl.read_parquet(runfolder.stage_dir("empty") / "p0.parquet").height == 0


def test_summaries_add_up(cache: RequestCache) -> None:
    a = run(make_items(4), FakeBackend(good), cache).summary
    b = run(make_items(3, prefix="b"), FakeBackend(good), cache).summary
    total = RunSummary().add(a).add(b).as_dict()
    assert (total["items"], total["results"], total["requests"], total["tokens_in"]) == (
        7,
        7,
        7,
        70,
    )
