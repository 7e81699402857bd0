"""serve-model: the OpenAI-compatible server, in-process with a scripted backend and for real."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from humanllm.cli import app as cli_app
from humanllm.llm.base import PermanentError, TransientError
from humanllm.llm.scripted import ScriptedBackend

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from humanllm.llm.serve_model import create_app


class Pet(BaseModel):
    name: str = Field(max_length=30)
    kind: Literal["cat", "dog", "fish"]
    age: int = Field(ge=0, le=20)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def scripted() -> tuple[ScriptedBackend, TestClient]:
    def reply(request):  # type: ignore[no-untyped-def]
        text = request.messages[-1][1]
        if text == "transient":
            return TransientError("busy")
        if text == "permanent":
            return PermanentError("cannot build a grammar")
        return '{"ok": true}'

    backend = ScriptedBackend(reply, model_id="scripted-id")
    return backend, TestClient(create_app(backend, "tiny", default_max_tokens=77))


def test_models_and_completion_shape(scripted: tuple[ScriptedBackend, TestClient]) -> None:
    backend, client = scripted
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny"
    body = {
        "model": "anything",
        "messages": [
            {"role": "developer", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 12,
        "seed": 5,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "pet", "schema": Pet.model_json_schema()},
        },
    }
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "chat.completion" and out["model"] == "tiny"
    assert out["choices"][0]["message"] == {"role": "assistant", "content": '{"ok": true}'}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert (
        out["usage"]["total_tokens"]
        == out["usage"]["prompt_tokens"] + out["usage"]["completion_tokens"]
    )
    seen = backend.requests[-1]
    assert seen.messages == (("system", "sys"), ("user", "hi"))
    assert (
        seen.sampling.temperature,
        seen.sampling.top_p,
        seen.sampling.max_tokens,
        seen.sampling.seed,
    ) == (0.2, 0.9, 12, 5)
    assert seen.json_schema == Pet.model_json_schema() and seen.schema_name == "pet"
    client.post(
        "/v1/chat/completions",
        json={"messages": user("x"), "response_format": {"type": "json_object"}},
    )
    seen = backend.requests[-1]
    assert (
        seen.json_schema == {"type": "object"}
        and seen.sampling.max_tokens == 77
        and seen.sampling.temperature == 1.0
    )


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"messages": []}, "messages"),
        ({"messages": user("x"), "n": 9}, "limit of 8"),
        ({"messages": user("x"), "n": 0}, "n"),
        ({"messages": user("x"), "temperature": 9}, "temperature"),
        ({"messages": user("x"), "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "role"),
        (
            {
                "messages": user("x"),
                "response_format": {"type": "json_schema", "json_schema": {"name": "a"}},
            },
            "schema",
        ),
        ({"messages": user("x"), "response_format": {"type": "yaml"}}, "response_format"),
        ({"messages": user("permanent")}, "grammar"),
    ],
)
def test_bad_requests_are_400_with_openai_errors(
    scripted: tuple[ScriptedBackend, TestClient], body: dict, needle: str
) -> None:
    r = scripted[1].post("/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and needle in err["message"]


def test_other_errors(scripted: tuple[ScriptedBackend, TestClient]) -> None:
    client = scripted[1]
    r = client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    assert client.get("/v1/nothing").status_code == 404
    r = client.post("/v1/chat/completions", json={"messages": user("transient")})
    assert r.status_code == 503 and r.json()["error"]["type"] == "server_error"


def test_port_in_use_is_a_clear_cli_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = CliRunner().invoke(cli_app, ["serve-model", "--port", str(port)])
    assert result.exit_code == 2
    assert "cannot listen" in result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    pytest.importorskip("llama_cpp")
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "humanllm",
        "serve-model",
        "--port",
        str(port),
        "--n-parallel",
        "2",
        "--n-ctx",
        "1024",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise AssertionError(
                f"serve-model exited: {proc.stdout.read().decode() if proc.stdout else ''}"
            )
        try:
            if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("serve-model did not come up in 90 s")
        time.sleep(0.2)
    yield base
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.llamacpp
def test_openai_client_gets_schema_valid_json_from_the_real_server(server: str) -> None:
    from openai import BadRequestError, OpenAI

    client = OpenAI(base_url=server, api_key="x", max_retries=0)
    model = client.models.list().data[0].id
    assert model.endswith(".gguf") is False and "SmolLM2" in model
    for seed in (1, 2):
        r = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Describe a pet as JSON."}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "pet", "schema": Pet.model_json_schema()},
            },
            temperature=0.9,
            max_tokens=120,
            seed=seed,
        )
        choice = r.choices[0]
        assert choice.finish_reason == "stop"
        Pet.model_validate_json(choice.message.content or "")
        assert r.usage is not None and r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    r = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "List two colors."}],
        response_format={"type": "json_object"},
        max_tokens=60,
        seed=3,
    )
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(r.choices[0].message.content or ""), dict)
    # streamed, two choices, each decoded under the schema's grammar
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Describe a pet as JSON."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "pet", "schema": Pet.model_json_schema()},
        },
        temperature=0.9,
        max_tokens=120,
        seed=4,
        n=2,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts, finish, usage = ["", ""], [None, None], None
    for chunk in stream:
        usage = chunk.usage or usage
        for c in chunk.choices:
            texts[c.index] += c.delta.content or ""
            finish[c.index] = c.finish_reason or finish[c.index]
    assert finish == ["stop", "stop"]
    for text in texts:
        Pet.model_validate_json(text)
    assert usage is not None and usage.completion_tokens > 0
    with pytest.raises(BadRequestError):
        client.chat.completions.create(model=model, messages=[], max_tokens=5)
    with pytest.raises(BadRequestError):
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "x"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "bad", "schema": {"type": "strin"}},
            },
        )
