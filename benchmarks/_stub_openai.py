"""A zero-latency OpenAI-compatible stub for the scale benchmark: every ``/v1/chat/completions``
request gets a JSON object derived from its own ``response_format`` JSON schema, so every stage
of the pipeline can run end to end without a model.

What the answers look like (deterministic per request: words drawn from a hash of the messages,
so records get different texts and a re-asked request gets the same one):

- strings respect ``minLength``/``maxLength`` and are written in short words, each prefixed by
  the field's path ("action answer ...") so that fields never repeat one another (the social QA
  leakage check and its distinct-questions rule pass); ~120 characters when the schema allows;
- the clean stage's one-field ``{"text"}`` schema echoes the record it was sent (the user
  message after its ``Platform:`` line), so cleaned records keep their real size downstream;
- enums answer ``high`` where offered, else their first value; booleans ``false`` (harmless);
- integers named ``score`` (the QC judge) are 9 (above both thresholds 8 and 7) on ~90% of
  requests and 5 on the others, so QC keeps most items and drops some; other integers and
  numbers take their minimum (or 1); arrays ``minItems`` items (at least 1, at most 2).

Run it as its own process (so its memory never counts in a stage's)::

    python benchmarks/_stub_openai.py        # prints "PORT <n>" once listening on 127.0.0.1
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_WORD_TEXT = (
    "the day was long and she felt calm so we sat by the lake then he said it was fine "
    "my old dog ran home at dusk our plan went well yet I felt odd a bit sad but glad too"
)
_WORDS = _WORD_TEXT.split()
DEFAULT_CHARS = 120
PASS_SHARE = 0.9


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _text(rng: random.Random, tag: str, lo: int, hi: int | None) -> str:
    target = max(lo, DEFAULT_CHARS if hi is None else min(hi, DEFAULT_CHARS))
    parts = [tag] if tag else []
    size = len(tag)
    while size < target:
        word = rng.choice(_WORDS)
        parts.append(word)
        size += len(word) + 1
    out = " ".join(parts)
    if hi is not None and len(out) > hi:
        out = out[:hi].rstrip() or "x"
    while len(out) < lo:  # only when a cut above left it short
        out += "a"
    return out


def value(node: dict[str, Any], defs: dict[str, Any], path: tuple[str, ...], ctx: Answer) -> Any:
    """A value valid under ``node`` (the subset of JSON Schema pydantic writes)."""
    node = _resolve(node, defs)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return "high" if "high" in node["enum"] else node["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [_resolve(o, defs) for o in node[key]]
            usable = [o for o in options if o.get("type") != "null"] or options
            return value(usable[0], defs, path, ctx)
    kind = node.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = node.get("properties", {})
        return {k: value(v, defs, (*path, k), ctx) for k, v in props.items()}
    if kind == "array":
        lo = int(node.get("minItems", 0))
        hi = int(node.get("maxItems", 2))
        n = max(1, lo) if hi >= 1 else 0
        item = node.get("items", {"type": "string"})
        return [value(item, defs, (*path, str(i)), ctx) for i in range(min(n, max(hi, lo)))]
    if kind == "string":
        tag = " ".join(p for p in path if not p.isdigit()).replace("_", " ")
        return _text(ctx.rng, tag, int(node.get("minLength", 0)), node.get("maxLength"))
    if kind == "integer":
        low: int = node.get("minimum", 1)
        high: int | None = node.get("maximum")
        if path and path[-1] == "score":
            want = 9 if ctx.passes else 5
            return max(low, want if high is None else min(high, want))
        return low
    if kind == "number":
        return node.get("minimum", 1.0)
    if kind == "boolean":
        return False
    return None


class Answer:
    """Per-request randomness: words and the QC pass/fail draw come from the messages' hash."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        blob = json.dumps(messages, ensure_ascii=False, sort_keys=True).encode()
        digest = hashlib.sha256(blob).digest()
        self.rng = random.Random(digest)
        self.passes = int.from_bytes(digest[:4], "big") / 2**32 < PASS_SHARE


def _user_text(messages: list[dict[str, Any]]) -> str:
    user = [m.get("content") or "" for m in messages if m.get("role") == "user"]
    return user[-1] if user else ""


def answer(body: dict[str, Any]) -> str:
    """The reply text for one ``/chat/completions`` body."""
    messages = body.get("messages") or []
    fmt = (body.get("response_format") or {}).get("json_schema") or {}
    schema = fmt.get("schema")
    if not schema:
        return json.dumps({"text": _user_text(messages)[:DEFAULT_CHARS]})
    props = schema.get("properties", {})
    text_only = set(props) == {"text"} and "maxLength" not in props["text"]
    if text_only:  # the clean stage: echo the record (after the "Platform: ..." line)
        head, _, record = _user_text(messages).partition("\n")
        return json.dumps({"text": record or head or "text"}, ensure_ascii=False)
    obj = value(schema, schema.get("$defs", {}), (), Answer(messages))
    return json.dumps(obj, ensure_ascii=False)


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    text = answer(body)
    n_in = sum(len(str(m.get("content") or "")) for m in body.get("messages") or []) // 4
    n_out = max(1, len(text) // 4)
    return {
        "id": "chatcmpl-scale-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "stub"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
    }


class Counters:
    requests = 0


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, val = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(val.strip())
            raw = await reader.readexactly(length)
            status = 200
            if method == "POST" and path.endswith("/chat/completions"):
                Counters.requests += 1
                try:
                    payload: dict[str, Any] = _completion(json.loads(raw))
                except (ValueError, KeyError, TypeError) as e:
                    status, payload = 400, {"error": {"message": f"stub: bad request ({e})"}}
            elif path.endswith("/models"):
                payload = {"object": "list", "data": [{"id": "stub", "object": "model"}]}
            elif path == "/stats":
                payload = {"requests": Counters.requests}
            else:
                status, payload = 404, {"error": {"message": f"no route {path}"}}
            data = json.dumps(payload, ensure_ascii=False).encode()
            writer.write(
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: keep-alive\r\n\r\n".encode()
                + data
            )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def serve(port: int = 0) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class StubProcess:
    """The stub in its own process: ``with StubProcess() as stub: stub.url``."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> StubProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, str(Path(__file__).resolve())]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"the stub server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
