"""The curation test model (:mod:`tests.curation.fake_model`) behind a real OpenAI-compatible HTTP
server on 127.0.0.1, with switches a test flips while a stage runs: ``outage`` (every request
gets 503, like a server that is down) and ``invalid`` (every reply is prose instead of JSON)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from humanllm.llm.base import ChatRequest, ChatResponse, Sampling
from tests.curation.fake_model import reply


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.outage = False
        self.invalid = False
        self.chat_requests = 0  # POST /chat/completions received, failed ones included
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.chat_requests += 1
        if self.outage:
            return 503, {"error": {"message": "the model server is down", "type": "outage"}}
        fmt = (body.get("response_format") or {}).get("json_schema") or {}
        req = ChatRequest(
            tuple((m["role"], m["content"]) for m in body["messages"]),
            Sampling(seed=body.get("seed")),
            fmt.get("schema"),
            fmt.get("name", "output"),
        )
        out = "Here is what you asked for, in plain words." if self.invalid else reply(req)
        text, finish = (
            (out.text, out.finish_reason) if isinstance(out, ChatResponse) else (out, "stop")
        )
        return 200, {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "test"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "test", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if self.path.endswith("/chat/completions"):
            self._send(*self.server.answer(body))
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})


@contextmanager
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
