"""Loopback OpenAI-compatible servers that can be stopped for real and started again on the same
port, for the pool tests and ``benchmarks/pool.py``.

A server answers ``POST .../chat/completions`` with the stub's deterministic reply
(:func:`tests.llm.stub_server.answer_for`: a function of the last user message only, so the same
request gets the same answer from any server) after ``latency`` seconds, serving at most ``cap``
requests at once (the rest wait, as on a GPU server with a full batch), and ``GET .../models``.
It counts the chat requests it received and the most it ever had in flight (received, not yet
answered), which is what the pool's per-server cap bounds.

In a thread of the test process: ``ThreadStub`` (``stop()`` closes the listening socket and aborts
open connections). In its own process, for the benchmark::

    python tests/llm/pool_stub.py --port 0 --latency 0.05 --cap 8     # prints "PORT <n>"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

try:  # imported as tests.llm.pool_stub by pytest, as a plain module by the benchmark
    from .stub_server import answer_for
except ImportError:
    from stub_server import answer_for  # type: ignore[no-redef]


class Counters:
    def __init__(self, latency: float, cap: int | None) -> None:
        self.latency, self.cap = latency, cap
        self.total = 0  # chat requests received
        self.in_flight = 0
        self.max_in_flight = 0
        self._sem: asyncio.Semaphore | None = None

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        self.total += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.cap is not None:
                if self._sem is None:
                    self._sem = asyncio.Semaphore(self.cap)
                async with self._sem:
                    await asyncio.sleep(self.latency)
            elif self.latency:
                await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        text = json.dumps(answer_for(body["messages"]))
        return {
            "id": "chatcmpl-pool",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 8, "completion_tokens": 8, "total_tokens": 16},
        }


async def _handle(
    c: Counters, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conns: set[Any]
) -> None:
    conns.add(writer.transport)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            size = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    size = int(line.split(":", 1)[1])
            body = await reader.readexactly(size)
            if method == "POST" and path.endswith("/chat/completions"):
                status, payload = 200, await c.chat(json.loads(body))
            elif path.endswith("/models"):
                status, payload = 200, {"object": "list", "data": [{"id": "stub-model"}]}
            else:
                status, payload = 404, {"error": {"message": f"no route {path}"}}
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        return
    finally:
        conns.discard(writer.transport)
        writer.close()


class ThreadStub:
    """One server on its own event loop in a daemon thread of this process."""

    def __init__(self, *, latency: float = 0.0, cap: int | None = None) -> None:
        self.counters = Counters(latency, cap)
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._conns: set[Any] = set()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def start(self) -> ThreadStub:
        async def listen() -> asyncio.Server:
            return await asyncio.start_server(
                lambda r, w: _handle(self.counters, r, w, self._conns),
                "127.0.0.1",
                self.port,
                backlog=512,
            )

        self._server = self._call(listen())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop for real: nothing listens on the port, open connections are reset."""

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for t in list(self._conns):
                t.abort()
            self._conns.clear()
            await self._server.wait_closed()

        self._call(close())
        self._server = None

    def close(self) -> None:
        if self._server is not None:
            self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def total(self) -> int:
        return self.counters.total

    @property
    def max_in_flight(self) -> int:
        return self.counters.max_in_flight


class ProcessStub:
    """One server in its own process (for the benchmark); ``kill()`` is a SIGKILL."""

    def __init__(self, *, latency: float, cap: int | None) -> None:
        self.args = ["--latency", str(latency)] + ([] if cap is None else ["--cap", str(cap)])
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> ProcessStub:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port), *self.args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"pool stub did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


async def _serve(port: int, latency: float, cap: int | None) -> None:
    c = Counters(latency, cap)
    conns: set[Any] = set()
    server = await asyncio.start_server(
        lambda r, w: _handle(c, r, w, conns), "127.0.0.1", port, backlog=512
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--cap", type=int, default=None)
    a = p.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(a.port, a.latency, a.cap))


if __name__ == "__main__":
    main()
