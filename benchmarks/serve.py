"""Benchmark of the simulator service's overhead: ``humanllm serve`` over real HTTP vs the Python API.

Both sides answer the same ``profile`` request with a scripted model that sleeps ``--delay-ms``
(20 ms) per call, so they measure how well concurrency is kept, not CPU spent generating:

- ``Python API``: ``--clients`` (32) asyncio tasks in this process, each calling
  ``Simulator.arun(ProfileInput(...))`` in a loop;
- ``humanllm serve``: the real service (``humanllm.simulate.service.serve``: FastAPI + uvicorn, the
  same code path as the command) in a child process on 127.0.0.1, and ``--clients`` keep-alive
  HTTP/1.1 connections from this process, each sending ``POST /api/profile`` in a loop. The load
  generator is a minimal asyncio HTTP/1.1 client (like ``wrk``), so the client's own cost stays
  small; every response is checked for status 200 and the first one is parsed and validated.

The clients start staggered over one model delay, as independent users would. With ``--lockstep``
they all start in the same instant; with a fixed model delay they then stay phase-locked, and each
wave of 32 replies queues behind itself in the one-process server (the API side barely notices:
its per-call CPU is ~8x smaller). Reported: requests/s, p50/p99 latency, CPU time per request of
the answering process, and the service's requests/s as a fraction of the API's (target >= 0.8).
Usage::

    python benchmarks/serve.py [--quick] [--json] [--requests N] [--clients C] [--delay-ms D] [--lockstep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

TARGET = 0.8
BODY = {"persona": "A nurse in Leeds who cooks for her two kids and runs on weekends."}


@dataclass
class Side:
    name: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float  # CPU time of the answering process (the service's, for HTTP)


def _side(name: str, latencies: list[float], seconds: float, cpu_s: float) -> Side:
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    n = len(latencies)
    return Side(name, n, round(seconds, 3), round(n / seconds, 1), round(q[49] * 1000, 2),
                round(q[98] * 1000, 2), round(cpu_s / n * 1e6, 1))  # fmt: skip


def _cpu(pid: int | None = None) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def _backend(delay_s: float) -> Any:
    from humanllm.llm.scripted import ScriptedBackend

    class Quiet(ScriptedBackend):  # no per-request bookkeeping: a long run stays flat in memory
        async def chat(self, request: Any) -> Any:
            from humanllm.llm.base import ChatResponse

            await asyncio.sleep(delay_s)
            return ChatResponse(text="A detailed profile.", model=self.model_id)

    return Quiet(model_id="scripted-bench")


async def _load(
    call: Any, total: int, clients: int, stagger_s: float = 0.0
) -> tuple[list[float], float]:
    """``clients`` workers share ``total`` calls; per-call latencies and the wall time. Worker i
    starts ``i * stagger_s / clients`` late (0: all at once, in lockstep)."""
    latencies: list[float] = []
    left = total

    async def worker(i: int) -> None:
        nonlocal left
        state = await call.open(i) if hasattr(call, "open") else None
        await asyncio.sleep(i * stagger_s / clients)
        while left > 0:
            left -= 1
            t0 = time.perf_counter()
            await call(state)
            latencies.append(time.perf_counter() - t0)
        if state is not None:
            state[1].close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return latencies, time.perf_counter() - start


async def bench_api(total: int, clients: int, delay_s: float, stagger_s: float) -> Side:
    from humanllm.simulate import ProfileInput, Simulator

    sim = Simulator(_backend(delay_s))

    async def call(_: Any) -> None:
        out = await sim.arun(ProfileInput(**BODY))
        assert out.samples

    await _load(call, min(total, 200), clients)  # warm-up
    cpu = _cpu()
    latencies, seconds = await _load(call, total, clients, stagger_s)
    return _side("Python API (direct)", latencies, seconds, _cpu() - cpu)


class HttpCall:
    """One keep-alive HTTP/1.1 connection per client; a call sends the request and reads the
    response (status line, headers, Content-Length body)."""

    def __init__(self, port: int) -> None:
        self.port = port
        body = json.dumps(BODY).encode()
        self.request = (
            f"POST /api/profile HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.checked = False

    async def open(self, _: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def __call__(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        reader, writer = conn
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = head[9:12]
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await reader.readexactly(length)
        if status != b"200":
            raise RuntimeError(f"HTTP {status.decode()}: {body[:200]!r}")
        if not self.checked:
            from humanllm.simulate import Result

            assert Result.model_validate_json(body).samples[0].text
            self.checked = True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_child(port: int, delay_s: float) -> None:
    """The child process: the real ``serve`` with the scripted model."""
    from humanllm.simulate import Simulator
    from humanllm.simulate.service import ServiceSettings, serve

    serve(
        lambda: Simulator(_backend(delay_s)),
        settings=ServiceSettings(),
        port=port,
        log=lambda _: None,
    )


async def _wait_up(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError("the service exited before it was up")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the service did not come up within 60 s")


async def bench_service(total: int, clients: int, delay_s: float, stagger_s: float) -> Side:
    port = _free_port()
    cmd = [sys.executable, __file__, "--serve-child", str(port), "--delay-ms", str(delay_s * 1000)]
    child = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        await _wait_up(port, child)
        call = HttpCall(port)
        await _load(call, min(total, 200), clients)  # warm-up
        cpu = _cpu(child.pid)
        latencies, seconds = await _load(call, total, clients, stagger_s)
        cpu = _cpu(child.pid) - cpu
    finally:
        child.terminate()
        child.wait(timeout=10)
    return _side("humanllm serve (HTTP)", latencies, seconds, cpu)


def _run(coro: Any) -> Any:
    """Both sides on the same event loop kind: uvloop when installed (uvicorn then uses it too)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer requests (< 1 min)")
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--requests", type=int, default=None, help="requests per side")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients")
    ap.add_argument("--delay-ms", type=float, default=20.0, help="scripted model latency")
    ap.add_argument(
        "--lockstep", action="store_true", help="start all clients at once (default: staggered)"
    )
    ap.add_argument("--serve-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    delay_s = args.delay_ms / 1000
    if args.serve_child is not None:
        serve_child(args.serve_child, delay_s)
        return
    total = args.requests or (8000 if args.quick else 20000)
    stagger_s = 0.0 if args.lockstep else delay_s
    api = _run(bench_api(total, args.clients, delay_s, stagger_s))
    svc = _run(bench_service(total, args.clients, delay_s, stagger_s))
    ratio = round(svc.rps / api.rps, 3)
    result = {
        "clients": args.clients,
        "delay_ms": args.delay_ms,
        "clients_start": "lockstep" if args.lockstep else "staggered",
        "api": asdict(api),
        "service": asdict(svc),
        "service_vs_api": ratio,
        "target": TARGET,
        "ok": ratio >= TARGET,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    start = "in lockstep" if args.lockstep else "staggered"
    table = Table(
        title=f"{args.clients} concurrent clients ({start}), scripted model {args.delay_ms:g} ms/call"
    )
    for col in ("path", "requests", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "vs API"):
        table.add_column(col, justify="left" if col == "path" else "right", no_wrap=True)
    for side, rel in ((api, "1.00"), (svc, f"{ratio:.2f}")):
        table.add_row(side.name, str(side.requests), f"{side.rps:.0f}", f"{side.p50_ms:.1f}",
                      f"{side.p99_ms:.1f}", f"{side.cpu_us_per_request:.0f}", rel)  # fmt: skip
    Console().print(table)
    verdict = "meets" if result["ok"] else "misses"
    print(f"service / API throughput {ratio:.2f} ({verdict} the >= {TARGET} target)")


if __name__ == "__main__":
    main()
