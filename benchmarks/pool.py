"""Benchmark of the openai backend's pool of servers (issue 15).

Loopback stub servers (each its own process) with 50 ms latency that serve at most 8 requests at
once, and the pool's per-server cap at 8: throughput of 1, 2, 3 and 4 servers (target: 4 servers
>= 3.6x one), and 4 servers with one killed (SIGKILL) halfway through: every request answered
with its right reply, wall time within 1.5x of the 3-server run.

The client is one process (one event loop, as in a run). The table gives its CPU per request:
where that times the servers' 160 req/s each nears one core, the client, not the pool, bounds
the throughput. Two references separate the two: the same client against one server that serves
32 at once (as fast as 4 servers; whatever it lacks of 4x is the client's CPU), and
``--latency 1.0`` (8 req/s per server), where the client's CPU matters less.

    python benchmarks/pool.py                  # full
    python benchmarks/pool.py --quick          # < 1 minute
    python benchmarks/pool.py --json           # one JSON object
    python benchmarks/pool.py --latency 0.4    # slower servers
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "llm"))

from pool_stub import ProcessStub  # noqa: E402
from stub_server import answer_for  # noqa: E402

from humanllm.llm.base import ChatRequest, Sampling  # noqa: E402
from humanllm.llm.config import OpenAIBackendConfig  # noqa: E402
from humanllm.llm.openai_backend import OpenAIBackend  # noqa: E402

SERVER_CAP, CONCURRENCY = 8, 32
RUNS = ("1", "2", "3", "4", "4, one killed", "1 serving 32 at once")
BIG = RUNS[-1]


def backend_for(urls: list[str], cap: int = SERVER_CAP) -> OpenAIBackend:
    return OpenAIBackend(
        OpenAIBackendConfig(
            base_urls=urls,
            model="stub-model",
            timeout_s=30.0,
            max_concurrency_per_endpoint=cap,
            endpoint_backoff_s=1.0,
            endpoint_backoff_max_s=10.0,
        )
    )


def requests(n: int, tag: str) -> list[ChatRequest]:
    return [
        ChatRequest((("system", "bench"), ("user", f"{tag} request {i}")), Sampling(seed=i))
        for i in range(n)
    ]


def _msg(m: tuple[str, str]) -> dict[str, str]:
    return {"role": m[0], "content": m[1]}


async def send_all(
    urls: list[str], reqs: list[ChatRequest], kill: ProcessStub | None = None, cap: int = SERVER_CAP
) -> tuple[float, float, int]:
    """Wall and client CPU seconds for ``reqs`` through one pooled backend, and how many got a
    wrong or no reply; ``kill`` is SIGKILLed once half of them are answered."""
    backend = backend_for(urls, cap)
    await backend.check()  # the start check, outside the timed region
    sem = asyncio.Semaphore(CONCURRENCY)
    done = 0
    killed: asyncio.Task[None] | None = None

    async def one(req: ChatRequest) -> bool:
        nonlocal done, killed
        async with sem:
            resp = await backend.chat(req)
        done += 1
        if kill is not None and killed is None and done >= len(reqs) // 2:
            killed = asyncio.create_task(asyncio.to_thread(kill.kill))
        return bool(json.loads(resp.text) == answer_for(list(map(_msg, req.messages))))

    start, cpu = time.perf_counter(), time.process_time()
    oks = await asyncio.gather(*(one(r) for r in reqs), return_exceptions=True)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if killed is not None:
        await killed
    await backend.aclose()
    return wall, cpu, sum(ok is not True for ok in oks)


def measure(latency: float, n: int, rounds: int) -> dict[str, Any]:
    stubs = [ProcessStub(latency=latency, cap=SERVER_CAP).start() for _ in range(4)]
    big = ProcessStub(latency=latency, cap=CONCURRENCY).start()
    walls: dict[str, list[float]] = {k: [] for k in RUNS}
    cpus: dict[str, list[float]] = {k: [] for k in RUNS}
    lost = 0
    try:
        urls = [s.url for s in stubs]
        asyncio.run(send_all(urls, requests(min(n, 200), "warm-up")))
        for r in range(rounds):  # interleaved, so background load hits every size alike
            for k in RUNS:
                kill = stubs[-1] if k == "4, one killed" else None
                reqs = requests(n, f"r{r} {k}")
                if k == BIG:
                    run = send_all([big.url], reqs, cap=CONCURRENCY)
                else:
                    run = send_all(urls[: int(k[0])], reqs, kill=kill)
                wall, cpu, bad = asyncio.run(run)
                walls[k].append(wall)
                cpus[k].append(cpu)
                lost += bad
            stubs[-1].start()  # the killed one again, same port, for the next round
    finally:
        for s in [*stubs, big]:
            s.kill()
    best = {k: min(v) for k, v in walls.items()}
    rps = {k: n / v for k, v in best.items()}
    return {
        "n_requests": n,
        "rounds": rounds,
        "latency_s": latency,
        "server_cap": SERVER_CAP,
        "client_concurrency": CONCURRENCY,
        "ideal_rps_per_server": SERVER_CAP / latency,
        "rps": {k: round(v, 1) for k, v in rps.items()},
        "wall_s": {k: round(v, 3) for k, v in best.items()},
        "speedup": {k: round(v / rps["1"], 2) for k, v in rps.items()},
        "client_cpu_ms_per_request": {k: round(1000 * min(v) / n, 2) for k, v in cpus.items()},
        "wrong_or_lost": lost,
        "killed_vs_3_servers": round(best["4, one killed"] / best["3"], 3),
        "4_servers_vs_one_serving_32": round(rps["4"] / rps[BIG], 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description="Benchmark the openai backend's pool of servers.")
    p.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--latency", type=float, default=0.05, help="seconds per request (0.05)")
    a = p.parse_args()
    logging.getLogger("humanllm.llm.pool").setLevel(logging.ERROR)  # the kill is expected
    seconds, rounds = (3.0, 1) if a.quick else (15.0, 3)  # one server's ideal wall
    n = -(-int(seconds * SERVER_CAP / a.latency) // CONCURRENCY) * CONCURRENCY  # whole waves
    result: dict[str, Any] = {"quick": a.quick, **measure(a.latency, n, rounds)}
    result["targets_met"] = {
        "4 servers >= 3.6x": result["speedup"]["4"] >= 3.6,
        "nothing lost": result["wrong_or_lost"] == 0,
        "killed <= 1.5x the 3-server wall": result["killed_vs_3_servers"] <= 1.5,
    }
    if a.json:
        print(json.dumps(result))
        return
    table = Table(
        title=f"Pool of servers ({'quick' if a.quick else 'full'}: {n} requests, best of "
        f"{rounds}; {1000 * a.latency:.0f} ms, {SERVER_CAP} at once per server; client "
        f"concurrency {CONCURRENCY})"
    )
    for col in ("servers", "req/s", "vs 1 server", "wall", "client CPU/req", "target"):
        table.add_column(col, justify="right")
    targets = {
        "4": f">= 3.6x ({result['4_servers_vs_one_serving_32']:.2f}x the 32-wide)",
        "4, one killed": f"<= 1.5x of 3: {result['killed_vs_3_servers']:.2f}x",
    }
    for k in RUNS:
        table.add_row(
            k,
            f"{result['rps'][k]:.0f}",
            f"{result['speedup'][k]:.2f}x",
            f"{result['wall_s'][k]:.2f} s",
            f"{result['client_cpu_ms_per_request'][k]:.2f} ms",
            targets.get(k, ""),
        )
    Console().print(table)
    Console().print(f"wrong or lost replies: {result['wrong_or_lost']} (target 0)")


if __name__ == "__main__":
    main()
