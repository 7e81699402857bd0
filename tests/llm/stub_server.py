"""A loopback OpenAI-compatible stub (``/v1/chat/completions``) for tests and benchmarks.

It answers with a deterministic JSON object derived from the last user message only (never from
the seed), so a re-asked request gets the same answer: ``{"digest": sha256(text)[:12], "chars":
len(text)}``. Options: a fixed latency, and fault injection where a deterministic share of requests
(hash of the messages and of how often the stub has seen them) fail with one of 429, 500, a hang
past the client's time-out, garbled JSON text, or truncated JSON (finish_reason "length"). A user
message containing ``FORCE_STATUS=<code>`` gets that HTTP status, one containing ``FORCE_HANG`` hangs, ``FORCE_BADBODY`` / ``FORCE_NOCHOICES`` get a broken 200. ``GET /stats`` returns counters.

Run it as a process (it prints ``PORT <n>`` once listening)::

    python tests/llm/stub_server.py --latency 0.05 --fault-rate 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

FAULTS = ("429", "500", "hang", "garbled", "truncated")
_FORCE = re.compile(r"FORCE_STATUS=(\d{3})")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def content_key(messages: list[dict[str, str]]) -> str:
    blob = json.dumps(
        [[m["role"], m["content"]] for m in messages], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def stub_key(messages: list[dict[str, str]] | tuple[tuple[str, str], ...], seed: int | None) -> str:
    """Identifies one request (messages + seed) in ``/stats`` ``by_request``."""
    msgs = [m if isinstance(m, dict) else {"role": m[0], "content": m[1]} for m in messages]
    return f"{content_key(msgs)}:{seed}"


def answer_for(messages: list[dict[str, str]]) -> dict[str, Any]:
    user = [m["content"] for m in messages if m["role"] == "user"]
    text = user[-1] if user else ""
    return {"digest": hashlib.sha256(text.encode()).hexdigest()[:12], "chars": len(text)}


class Stub:
    def __init__(self, latency: float, fault_rate: float, hang_s: float) -> None:
        self.latency, self.fault_rate, self.hang_s = latency, fault_rate, hang_s
        self.seen: Counter[str] = (
            Counter()
        )  # content key -> times seen (the fault "attempt counter")
        self.by_request: Counter[str] = Counter()  # stub_key -> requests received
        self.faults: Counter[str] = Counter()
        self.total = 0
        self.strict_schema = 0  # requests carrying response_format json_schema with strict: true

    def fault(self, key: str) -> str | None:
        n = self.seen[key]
        self.seen[key] += 1
        if self.fault_rate <= 0:
            return None
        h = hashlib.sha256(f"{key}/{n}".encode()).digest()
        if int.from_bytes(h[:4], "big") % 10_000 >= self.fault_rate * 10_000:
            return None
        return FAULTS[h[4] % len(FAULTS)]

    async def chat(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        messages = body["messages"]
        self.total += 1
        self.by_request[stub_key(messages, body.get("seed"))] += 1
        fmt = body.get("response_format") or {}
        if (
            fmt.get("type") == "json_schema"
            and fmt["json_schema"].get("strict")
            and fmt["json_schema"].get("schema")
        ):
            self.strict_schema += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if "FORCE_HANG" in messages[-1]["content"]:
            await asyncio.sleep(self.hang_s)
            return 0, None, {}
        if "FORCE_BADBODY" in messages[-1]["content"]:
            return 200, None, {}  # a 200 whose body is not JSON
        if "FORCE_NOCHOICES" in messages[-1]["content"]:
            return 200, {"id": "x", "object": "chat.completion", "choices": []}, {}
        forced = _FORCE.search(messages[-1]["content"])
        if forced:
            code = int(forced.group(1))
            return (
                code,
                {"error": {"message": f"forced {code}", "type": "stub"}},
                {"retry-after-ms": "5"},
            )
        kind = self.fault(content_key(messages))
        if kind:
            self.faults[kind] += 1
        if kind == "429":
            return (
                429,
                {"error": {"message": "slow down", "type": "rate_limit"}},
                {"retry-after-ms": "20"},
            )
        if kind == "500":
            return 500, {"error": {"message": "boom", "type": "server_error"}}, {}
        if kind == "hang":
            await asyncio.sleep(self.hang_s)
            return 0, None, {}
        text = json.dumps(answer_for(messages))
        finish = "stop"
        if kind == "garbled":
            text = text[: len(text) // 2] + '"}{]] not json'
        elif kind == "truncated":
            text, finish = text[: len(text) // 2], "length"
        prompt_chars = sum(len(m["content"]) for m in messages)
        return (
            200,
            _completion(
                body.get("model", "stub"), text, finish, prompt_chars // 4, max(1, len(text) // 4)
            ),
            {},
        )

    def stats(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "strict_schema": self.strict_schema,
            "faults": dict(self.faults),
            "by_request": dict(self.by_request),
        }


def _completion(model: str, text: str, finish: str, n_in: int, n_out: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
    }


async def _handle(stub: Stub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            extra: dict[str, str] = {}
            if method == "POST" and path.endswith("/chat/completions"):
                status, payload, extra = await stub.chat(json.loads(body))
                if status == 0:  # hang: the client has given up; drop the connection
                    return
            elif path == "/stats":
                status, payload = 200, stub.stats()
            elif path.endswith("/models"):
                status, payload = (
                    200,
                    {"object": "list", "data": [{"id": "stub", "object": "model"}]},
                )
            else:
                status, payload = 404, {"error": {"message": f"no route {path}"}}
            data = (
                b"<html>upstream hiccup</html>" if payload is None else json.dumps(payload).encode()
            )
            hdr = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            writer.write(
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: keep-alive\r\n{hdr}\r\n".encode()
                + data
            )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def serve(port: int, latency: float, fault_rate: float, hang_s: float) -> None:
    stub = Stub(latency, fault_rate, hang_s)
    server = await asyncio.start_server(
        lambda r, w: _handle(stub, r, w), "127.0.0.1", port, backlog=1024
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class StubProcess:
    """The stub in its own process: ``with StubProcess(latency=0.05) as stub: stub.url``."""

    def __init__(
        self, *, latency: float = 0.0, fault_rate: float = 0.0, hang_s: float = 5.0
    ) -> None:
        self.args = [
            "--latency",
            str(latency),
            "--fault-rate",
            str(fault_rate),
            "--hang-s",
            str(hang_s),
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> StubProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"stub server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as r:
            data: dict[str, Any] = json.loads(r.read())
        return data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--hang-s", type=float, default=5.0)
    a = p.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(a.port, a.latency, a.fault_rate, a.hang_s))


if __name__ == "__main__":
    main()
