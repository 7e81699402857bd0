"""Benchmark of the LLM runner (issue 3).

(a) requests/s of ``run_llm`` against a loopback stub (50 ms latency, its own process) at
    concurrency 64, vs a bare ``openai.AsyncOpenAI`` + ``asyncio.Semaphore(64)`` sending the same
    request bodies (target: >= 0.9x);
(b) re-run of the finished stage: 0 requests, wall time <= 5% of the first run;
(c) embedded model: output tokens/s of one request vs concurrent requests.

    python benchmarks/llm_runner.py            # full
    python benchmarks/llm_runner.py --quick    # < 1 minute
    python benchmarks/llm_runner.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import openai
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "llm"))

from runner_common import SAMPLING, STAGE, TEMPLATE, Echo, make_items, openai_cfg, render_item  # noqa: E402
from stub_server import StubProcess  # noqa: E402

from humanllm.llm.base import ChatRequest  # noqa: E402
from humanllm.llm.cache import RequestCache  # noqa: E402
from humanllm.llm.config import RunnerConfig  # noqa: E402
from humanllm.llm.openai_backend import OpenAIBackend  # noqa: E402
from humanllm.llm.replies import derive_seed  # noqa: E402
from humanllm.llm.runner import RunOutcome, run_llm  # noqa: E402


def requests_for(items: list[dict[str, Any]]) -> list[ChatRequest]:
    """The requests the runner makes for ``items`` (built outside the timed region)."""
    schema = Echo.model_json_schema()
    return [
        ChatRequest(
            render_item(it),
            dataclasses.replace(SAMPLING, seed=derive_seed(it["id"], STAGE, 0)),
            schema,
            "Echo",
        )
        for it in items
    ]


def plain_body(backend: OpenAIBackend, req: ChatRequest) -> dict[str, Any]:
    """The request as one writes it with the bare SDK (``response_format=`` as an argument)."""
    body = backend.request_kwargs(req)
    body.update(body.pop("extra_body"))
    return body


async def bare_client(url: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
    """The baseline: the bare SDK client and a semaphore, same bodies on the wire."""
    client = openai.AsyncOpenAI(base_url=url, api_key="sk-none", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def one(body: dict[str, Any]) -> None:
        async with sem:
            await client.chat.completions.create(**body)

    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in bodies))
    wall = time.perf_counter() - start
    await client.close()
    return wall


async def backend_alone(url: str, reqs: list[ChatRequest], concurrency: int) -> float:
    """``OpenAIBackend.chat`` and a semaphore: what the runner adds on top is its own cost."""
    backend = OpenAIBackend(openai_cfg(url))
    sem = asyncio.Semaphore(concurrency)

    async def one(req: ChatRequest) -> None:
        async with sem:
            await backend.chat(req)

    start = time.perf_counter()
    await asyncio.gather(*(one(r) for r in reqs))
    wall = time.perf_counter() - start
    await backend.aclose()
    return wall


def runner_once(
    url: str, items: list[dict[str, Any]], cache_dir: Path, concurrency: int, progress: bool
) -> RunOutcome[Echo]:
    with RequestCache.in_run(cache_dir) as cache:
        return run_llm(
            items,
            render=render_item,
            schema=Echo,
            backend=OpenAIBackend(openai_cfg(url)),
            cache=cache,
            stage=STAGE,
            prompt_version=TEMPLATE.id,
            sampling=SAMPLING,
            runner_cfg=RunnerConfig(max_concurrency=concurrency),
            progress=progress,
        )


def throughput(
    n: int, rounds: int, concurrency: int, latency: float, progress: bool
) -> dict[str, Any]:
    items = make_items(n)
    names = ("bare", "backend", "runner")
    walls: dict[str, list[float]] = {k: [] for k in names}
    cpus: dict[str, list[float]] = {k: [] for k in names}
    with StubProcess(latency=latency) as stub, tempfile.TemporaryDirectory() as tmp:
        reqs = requests_for(items)
        bodies = [plain_body(OpenAIBackend(openai_cfg(stub.url)), r) for r in reqs]
        asyncio.run(bare_client(stub.url, bodies[:200], concurrency))  # warm-up
        for r in range(rounds):  # interleaved, so background load hits all three alike
            cpu0 = time.process_time()
            walls["bare"].append(asyncio.run(bare_client(stub.url, bodies, concurrency)))
            cpus["bare"].append(time.process_time() - cpu0)
            cpu0 = time.process_time()
            walls["backend"].append(asyncio.run(backend_alone(stub.url, reqs, concurrency)))
            cpus["backend"].append(time.process_time() - cpu0)
            cpu0 = time.process_time()
            out = runner_once(stub.url, items, Path(tmp) / f"r{r}", concurrency, progress)
            cpus["runner"].append(time.process_time() - cpu0)  # the cache writer thread included
            assert out.summary.requests == n and len(out.results) == n, out.summary.as_dict()
            walls["runner"].append(out.summary.wall_s)
        t0 = time.perf_counter()
        again = runner_once(stub.url, items, Path(tmp) / f"r{rounds - 1}", concurrency, False)
        rerun_total = time.perf_counter() - t0  # also counts opening the cache and the event loop
        assert len(again.results) == n and again.results == out.results
    best = {k: n / min(v) for k, v in walls.items()}
    median = {k: n / statistics.median(v) for k, v in walls.items()}
    return {
        "n_requests": n,
        "concurrency": concurrency,
        "latency_s": latency,
        "rounds": rounds,
        "baseline_rps": round(best["bare"], 1),
        "backend_alone_rps": round(best["backend"], 1),
        "runner_rps": round(best["runner"], 1),
        "runner_vs_baseline": round(best["runner"] / best["bare"], 3),
        "runner_vs_backend_alone": round(best["runner"] / best["backend"], 3),
        "median_rps": {k: round(v, 1) for k, v in median.items()},
        "cpu_ms_per_request": {
            k: round(1000 * statistics.median(v) / n, 3) for k, v in cpus.items()
        },
        "first_run_wall_s": round(walls["runner"][-1], 3),
        "rerun_requests": again.summary.requests,
        "rerun_cache_hits": again.summary.cache_hits,
        "rerun_wall_s": round(again.summary.wall_s, 4),
        "rerun_total_s": round(rerun_total, 4),
        "rerun_ratio": round(again.summary.wall_s / walls["runner"][-1], 4),
        "rerun_total_ratio": round(rerun_total / walls["runner"][-1], 4),
    }


def embedded(max_tokens: int, n_batch: int, n_parallel: int) -> dict[str, Any]:
    try:
        from humanllm.llm.throughput import embedded_throughput
    except ImportError as e:
        return {"skipped": f"embedded_throughput is not available ({e})"}
    try:
        one = embedded_throughput(1, 1, max_tokens)
        batch = embedded_throughput(n_batch, n_parallel, max_tokens)
    except Exception as e:  # no llama-cpp-python or no model on this machine
        return {"skipped": f"{type(e).__name__}: {e}"}
    return {
        "max_tokens": max_tokens,
        "one_tokens_per_s": one["tokens_per_s"],
        "batch_requests": n_batch,
        "batch_parallel": n_parallel,
        "batch_tokens_per_s": batch["tokens_per_s"],
        "batch_vs_one": round(batch["tokens_per_s"] / max(one["tokens_per_s"], 1e-9), 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description="Benchmark the LLM runner.")
    p.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--progress", action="store_true", help="show the runner's progress bar while timing"
    )
    p.add_argument("--no-embedded", action="store_true", help="skip part (c)")
    a = p.parse_args()
    n, rounds = (1000, 1) if a.quick else (4000, 3)
    result: dict[str, Any] = {"quick": a.quick}
    result["stub"] = throughput(n, rounds, concurrency=64, latency=0.05, progress=a.progress)
    if a.no_embedded:
        result["embedded"] = {"skipped": "--no-embedded"}
    else:
        result["embedded"] = embedded(32 if a.quick else 128, n_batch=4, n_parallel=2)
    stub = result["stub"]
    result["targets_met"] = {
        "runner_vs_baseline>=0.9": stub["runner_vs_baseline"] >= 0.9,
        "rerun_requests==0": stub["rerun_requests"] == 0,
        "rerun_wall<=5%": stub["rerun_ratio"] <= 0.05,
    }
    if a.json:
        print(json.dumps(result))
        return
    table = Table(title=f"LLM runner benchmark ({'quick' if a.quick else 'full'})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    rows = [
        (f"bare openai client, {n} req @ c=64, 50 ms", f"{stub['baseline_rps']:.0f} req/s", ""),
        ("OpenAIBackend.chat + semaphore", f"{stub['backend_alone_rps']:.0f} req/s", ""),
        ("run_llm (render, cache, validation, limiter)", f"{stub['runner_rps']:.0f} req/s", ""),
        ("runner / bare client", f"{stub['runner_vs_baseline']:.2f}x", ">= 0.90x"),
        (
            "runner / backend alone (the runner's own cost)",
            f"{stub['runner_vs_backend_alone']:.2f}x",
            "",
        ),
        (
            "client CPU per request: bare / backend / runner",
            " / ".join(f"{v:.2f}" for v in stub["cpu_ms_per_request"].values()) + " ms",
            "",
        ),
        ("re-run: requests", str(stub["rerun_requests"]), "0"),
        (
            "re-run: wall / first run",
            f"{stub['rerun_wall_s']:.3f} s / {stub['first_run_wall_s']:.2f} s = {stub['rerun_ratio']:.1%}",
            "<= 5%",
        ),
        (
            "re-run incl. cache open + loop start",
            f"{stub['rerun_total_s']:.3f} s = {stub['rerun_total_ratio']:.1%}",
            "",
        ),
    ]
    emb = result["embedded"]
    if "skipped" in emb:
        rows.append(("embedded model", f"skipped: {emb['skipped']}", ""))
    else:
        rows += [
            (
                f"embedded: 1 request, {emb['max_tokens']} tokens",
                f"{emb['one_tokens_per_s']:.1f} tok/s",
                "",
            ),
            (
                f"embedded: {emb['batch_requests']} requests, {emb['batch_parallel']} parallel",
                f"{emb['batch_tokens_per_s']:.1f} tok/s",
                "",
            ),
            ("embedded: batch / one", f"{emb['batch_vs_one']:.2f}x", ""),
        ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
