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


def baseline_bodies(
    backend: OpenAIBackend, items: list[dict[str, Any]], plain: bool
) -> list[dict[str, Any]]:
    """The exact requests the runner sends, prepared outside the timed region (favours the baseline).

    ``plain``: ``response_format=`` as a direct argument, the way one writes it with the bare SDK;
    otherwise the backend's own call (``response_format`` inside ``extra_body``: same wire bytes).
    """
    schema = Echo.model_json_schema()
    bodies = []
    for item in items:
        seed = derive_seed(item["id"], STAGE, 0)
        sampling = dataclasses.replace(SAMPLING, seed=seed)
        body = backend.request_kwargs(ChatRequest(render_item(item), sampling, schema, "Echo"))
        if plain:
            body.update(body.pop("extra_body"))
        bodies.append(body)
    return bodies


async def bare_client(url: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
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
    walls: dict[str, list[float]] = {"plain": [], "same_call": [], "runner": []}
    cpus: dict[str, list[float]] = {"plain": [], "same_call": [], "runner": []}
    with StubProcess(latency=latency) as stub, tempfile.TemporaryDirectory() as tmp:
        backend = OpenAIBackend(openai_cfg(stub.url))
        bodies = {
            "plain": baseline_bodies(backend, items, True),
            "same_call": baseline_bodies(backend, items, False),
        }
        asyncio.run(bare_client(stub.url, bodies["plain"][:200], concurrency))  # warm-up
        for r in range(rounds):  # interleaved, so background load hits all three alike
            for name in ("plain", "same_call"):
                cpu0 = time.process_time()
                walls[name].append(asyncio.run(bare_client(stub.url, bodies[name], concurrency)))
                cpus[name].append(time.process_time() - cpu0)
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
        "baseline_rps": round(best["plain"], 1),
        "baseline_same_call_rps": round(best["same_call"], 1),
        "runner_rps": round(best["runner"], 1),
        "runner_vs_baseline": round(best["runner"] / best["plain"], 3),
        "runner_vs_same_call": round(best["runner"] / best["same_call"], 3),
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
        (
            "bare client, the backend's call (extra_body)",
            f"{stub['baseline_same_call_rps']:.0f} req/s",
            "",
        ),
        ("run_llm (render, cache, validation, limiter)", f"{stub['runner_rps']:.0f} req/s", ""),
        ("runner / bare client", f"{stub['runner_vs_baseline']:.2f}x", ">= 0.90x"),
        ("runner / bare client, same call", f"{stub['runner_vs_same_call']:.2f}x", ""),
        (
            "client CPU per request: bare / same call / runner",
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
