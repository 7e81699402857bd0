"""The HTTP service over real HTTP on loopback (uvicorn in a thread), scripted model behind it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from humanllm.llm.base import ChatRequest, ChatResponse, PermanentError
from humanllm.llm.scripted import ScriptedBackend
from humanllm.simulate import Simulator
from humanllm.simulate.people import GenomeUsers
from humanllm.simulate.schemas import APPLICATIONS
from humanllm.simulate.service import (
    ServiceConfigError,
    ServiceSettings,
    create_app,
    is_loopback,
    running,
)
from tests.simulate.conftest import AMAZON_USER, make_genome, scripted_reply

TOKEN = "s3cret-token"
BODIES = {
    "profile": {"persona": "A nurse in Leeds."},
    "explain": {
        "persona": "A nurse.",
        "scenario": "Her shift runs late.",
        "question": "Why is she calm?",
    },
    "write": {"topic": "lunch boxes", "kind": "tweet", "style": "Short."},
    "comment": {
        "post": "A new rice cooker",
        "history": ["Good.", {"item": "Lamp", "text": "Dim."}],
    },
    "select": {"candidates": ["Tea", "Rice cooker"], "history": ["Mug"], "profile": "Cooks a lot."},
    "scenario": {
        "characters": [{"name": "Ann", "description": "a nurse"}],
        "time": "noon",
        "place": "Leeds",
    },
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_genome(tmp_path_factory.mktemp("svc") / "run")


@pytest.fixture(scope="module")
def backend() -> ScriptedBackend:
    return ScriptedBackend(scripted_reply, model_id="scripted-svc", delay_s=0.2)


@pytest.fixture(scope="module")
def url(run_dir: Path, backend: ScriptedBackend) -> Iterator[str]:
    settings = ServiceSettings(max_n=4, max_body_bytes=4096)
    app = create_app(Simulator(backend), genome=GenomeUsers(run_dir), settings=settings)
    with running(app) as base:
        yield base


@pytest.fixture(scope="module")
def token_url(backend: ScriptedBackend) -> Iterator[str]:
    app = create_app(Simulator(backend), settings=ServiceSettings(token=TOKEN))
    with running(app) as base:
        yield base


def test_every_application_answers(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for app, body in BODIES.items():
            r = client.post(f"/api/{app}", json={**body, "n": 2, "seed": 7})
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["application"] == app and out["model"] == "scripted-svc"
            assert [s["seed"] for s in out["samples"]] == [7, 8]
        assert out["samples"][0]["text"]  # scenario
        r = client.post("/api/select", json=BODIES["select"])
        assert r.json()["samples"][0]["item"] == "Rice cooker"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_invalid_requests_are_clear_4xx(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        r = client.post("/api/select", json={"candidates": ["only"], "persona": "p"})
        assert r.status_code == 422
        assert "candidates: List should have at least 2 items" in r.json()["error"]["message"]
        r = client.post("/api/explain", json={"scenario": "s", "question": "q"})
        assert r.status_code == 422 and "persona or a profile" in r.json()["error"]["message"]
        r = client.post("/api/profile", json={"persona": "p", "surprise": 1})
        assert r.status_code == 422 and "surprise" in r.json()["error"]["message"]
        r = client.post(
            "/api/profile", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
        r = client.post("/api/profile", json={"persona": "p", "n": 5})
        assert r.status_code == 422
        assert r.json()["error"]["message"] == "n: 5 is over this server's limit of 4 samples"
        r = client.post("/api/profile", json={"persona": "p", "n": 0})
        assert r.status_code == 422
        r = client.get("/api/nowhere")
        assert r.status_code == 404 and r.json()["error"]["status"] == 404
        assert client.get("/api/profile").status_code == 405


def test_oversized_bodies_get_413(url: str) -> None:
    big = {"persona": "x" * 5000}
    with httpx.Client(base_url=url, timeout=10) as client:
        r = client.post("/api/profile", json=big)
        assert r.status_code == 413 and "4096-byte limit" in r.json()["error"]["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams in
            yield b'{"persona": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}'

        r = client.post(
            "/api/profile", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


def test_users_and_person(url: str, run_dir: Path) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        info = client.get("/api/info").json()
        assert info["genome"]["users"] == 4 and info["max_n"] == 4
        page = client.get("/api/users", params={"limit": 2, "offset": 1}).json()
        assert page["total"] == 4 and [u["user_id"] for u in page["users"]] == ["twin", "twin"]
        assert client.get("/api/users", params={"q": "football"}).json()["total"] == 1
        assert client.get("/api/users", params={"limit": 0}).status_code == 422
        one = client.get(f"/api/users/amazon/{AMAZON_USER}").json()
        assert one["person"]["persona"].startswith("A nurse")
        assert one["inputs"]["select"]["history"][0]["item"] == "Rice cooker"  # history_items: 3
        r = client.get("/api/users/amazon/nobody")
        message = r.json()["error"]["message"]
        assert r.status_code == 404 and "no user 'nobody'" in message
        assert str(run_dir) not in message and str(run_dir.parent) not in message  # no paths
        assert str(run_dir) not in client.get("/api/info").text


def test_openapi_lists_every_endpoint(url: str) -> None:
    schema = httpx.get(f"{url}/openapi.json").json()
    paths = schema["paths"]
    for app in APPLICATIONS:
        assert "post" in paths[f"/api/{app}"]
        ref = paths[f"/api/{app}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert ref["$ref"].endswith("Input")
    for path in ("/api/users", "/api/users/{source}/{user_id}", "/api/info"):
        assert "get" in paths[path]


class GateBackend(ScriptedBackend):
    """Holds every request until ``width`` are in flight at once (or fails after ``wait_s``):
    a server that handled requests one at a time could never release the first one."""

    def __init__(self, width: int, wait_s: float = 30.0) -> None:
        super().__init__(scripted_reply, model_id="scripted-gate")
        self.width, self.wait_s = width, wait_s
        self.released = False

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            deadline = asyncio.get_running_loop().time() + self.wait_s
            while not self.released and self.in_flight < self.width:
                if asyncio.get_running_loop().time() > deadline:
                    raise PermanentError(f"only {self.max_in_flight} requests were ever in flight")
                await asyncio.sleep(0.01)
            self.released = True
        finally:
            self.in_flight -= 1
        return ChatResponse(text="simulated", prompt_tokens=1, completion_tokens=1)


def test_requests_are_served_concurrently(run_dir: Path) -> None:
    gate = GateBackend(width=8)
    app = create_app(Simulator(gate), settings=ServiceSettings(max_n=4))

    async def burst(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            return await asyncio.gather(
                *(client.post("/api/profile", json={"persona": f"p{i}"}) for i in range(8))
            )

    with running(app) as base:
        rs = asyncio.run(burst(base))
    assert [r.status_code for r in rs] == [200] * 8, rs[0].text
    assert gate.max_in_flight == 8  # all eight were being answered at the same moment


def test_token_required(token_url: str) -> None:
    with httpx.Client(base_url=token_url, timeout=10) as client:
        r = client.post("/api/profile", json={"persona": "p"})
        assert r.status_code == 401 and "missing bearer token" in r.json()["error"]["message"]
        assert r.headers["www-authenticate"] == "Bearer"
        r = client.get("/api/info", headers={"Authorization": "Bearer wrong-token"})
        assert r.status_code == 401 and r.json()["error"]["message"] == "wrong bearer token"
        r = client.post(
            "/api/profile", json={"persona": "p"}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert r.status_code == 200
        assert (
            client.get("/api/users", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
            == 404
        )
        assert client.get("/").status_code == 200  # the page itself holds no data
        # With a token, other Host names are fine (the token is what protects the API).
        r = client.get(
            "/api/info", headers={"Authorization": f"Bearer {TOKEN}", "Host": "sim.example"}
        )
        assert r.status_code == 200 and r.json()["genome"] is None


def test_loopback_without_token_rejects_foreign_host_headers(url: str) -> None:
    r = httpx.get(f"{url}/api/info", headers={"Host": "evil.example:8000"})
    assert r.status_code == 400 and "Host" in r.json()["error"]["message"]
    assert httpx.get(f"{url}/api/info", headers={"Host": "localhost:1"}).status_code == 200


def test_settings_refuse_public_addresses_without_token() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    with pytest.raises(ServiceConfigError, match="--token"):
        ServiceSettings(host="0.0.0.0")
    with pytest.raises(ServiceConfigError, match="at least 8"):
        ServiceSettings(host="0.0.0.0", token="short")
    assert ServiceSettings(host="0.0.0.0", token=TOKEN).token == TOKEN


def test_page_and_assets(url: str) -> None:
    r = httpx.get(url + "/")
    assert r.status_code == 200 and "HumanLLM simulator" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "http" not in r.text.replace("http-equiv", "").replace(
        "http://www.w3.org/2000/svg", ""
    )  # nothing from another origin (an SVG namespace is a name, not a fetch)
    assert httpx.get(url + "/static/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(url + "/static/secrets.txt").status_code == 404


def test_backend_failures_map_to_5xx(run_dir: Path) -> None:
    never = ScriptedBackend(lambda r: "no idea")
    app = create_app(Simulator(never, select_attempts=2))
    with running(app) as base:
        r = httpx.post(f"{base}/api/select", json=BODIES["select"])
        assert r.status_code == 502 and "named none" in r.json()["error"]["message"]


def test_running_picks_a_free_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        taken = s.getsockname()[1]
        app = create_app(Simulator(ScriptedBackend()))
        with running(app) as base:
            assert not base.endswith(f":{taken}")
            assert httpx.get(base + "/healthz").json() == {"status": "ok"}


def test_benchmark_runs() -> None:
    """benchmarks/serve.py end to end on a few requests (the real serve in a child process)."""
    import json
    import subprocess
    import sys

    script = Path(__file__).parents[2] / "benchmarks" / "serve.py"
    cmd = [sys.executable, str(script), "--requests", "200", "--clients", "8", "--json"]
    out = json.loads(
        subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    )
    assert out["api"]["requests"] == out["service"]["requests"] == 200
    assert out["service"]["rps"] > 0 and out["service"]["p99_ms"] >= out["service"]["p50_ms"]


def test_openapi_declares_the_bearer_scheme_when_a_token_is_set(token_url: str) -> None:
    schema = httpx.get(f"{token_url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/api/profile"]["post"]["security"] == [{"HTTPBearer": []}]
    assert httpx.get(f"{token_url}/docs").status_code == 404  # no CDN-backed Swagger page


def test_serve_loads_the_model_before_listening() -> None:
    from humanllm.llm.base import PermanentError
    from humanllm.simulate.service import serve

    broken = ScriptedBackend(lambda r: PermanentError("no chat template"))
    with pytest.raises(PermanentError, match="no chat template"):
        serve(lambda: Simulator(broken), settings=ServiceSettings(), port=0, log=lambda _: None)
    assert broken.calls == 1 and broken.requests[0].sampling.max_tokens == 1 and broken.closed
