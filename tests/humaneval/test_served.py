"""The rating page under ``humanllm serve`` over real HTTP on loopback (uvicorn in a thread)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx

from humanllm.humaneval.sample import load
from humanllm.humaneval.score import ScoreConfig, score
from humanllm.llm.scripted import ScriptedBackend
from humanllm.simulate import Simulator
from humanllm.simulate.people import GenomeUsers
from humanllm.simulate.service import ServiceSettings, create_app, running
from tests.humaneval.fixtures import genome_run, read_rows, sampled

TOKEN = "human-eval-token"


def _app(run: Path, settings: ServiceSettings) -> object:
    backend = ScriptedBackend(lambda _: "ok", model_id="scripted-he")
    return create_app(Simulator(backend), genome=GenomeUsers(run), settings=settings)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = genome_run(
        tmp_path_factory.mktemp("served") / "run", sources=("reddit",), users_per_source=2
    )
    sampled(root, n=6, name="pilot")
    return root


@pytest.fixture(scope="module")
def url(run: Path) -> Iterator[str]:
    with running(_app(run, ServiceSettings())) as base:
        yield base


def test_page_data_and_saving_to_the_run_folder(run: Path, url: str) -> None:
    folder = run / "human_eval" / "pilot"
    meta, instances = load(folder)
    with httpx.Client(base_url=url, timeout=10) as client:
        page = client.get("/human-eval/pilot/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp
        assert instances[0].synthesized[0].text not in page.text  # data only through the API
        assert client.get("/api/human-eval").json() == {
            "samples": [{"name": "pilot", "page": "/human-eval/pilot/"}]
        }
        data = client.get("/api/human-eval/pilot").json()
        assert data["meta"]["orders"] == meta["orders"] and "run_dir" not in data["meta"]
        assert {x["instance_id"] for x in data["instances"]} == {x.instance_id for x in instances}
        mine = meta["orders"]["a2"]
        r = client.put(
            "/api/human-eval/pilot/sheets/a2",
            json={
                "rows": [
                    {
                        "instance_id": mine[0],
                        "hallucination": 4,
                        "plausibility": 2,
                        "note": 'odd, "quoted"',
                    }
                ]
            },
        )
        assert r.status_code == 200 and r.json() == {"annotator": "a2", "rated": 1, "of": len(mine)}
        rows = {x["instance_id"]: x for x in read_rows(folder / "sheets" / "a2.csv")}
        assert (rows[mine[0]]["hallucination"], rows[mine[0]]["plausibility"]) == ("4", "2")
        assert rows[mine[0]]["note"] == 'odd, "quoted"' and rows[mine[1]]["hallucination"] == ""
        # a second save of another row keeps the first
        client.put(
            "/api/human-eval/pilot/sheets/a2",
            json={"rows": [{"instance_id": mine[1], "hallucination": 5, "plausibility": 5}]},
        )
        got = client.get("/api/human-eval/pilot/sheets/a2").json()["rows"]
        assert [(x["hallucination"], x["plausibility"]) for x in got[:2]] == [(4, 2), (5, 5)]


def test_bad_requests(url: str, run: Path) -> None:
    meta, _ = load(run / "human_eval" / "pilot")
    others = [
        i for i in meta["orders"]["a2"] + meta["orders"]["a3"] if i not in meta["orders"]["a1"]
    ]
    with httpx.Client(base_url=url, timeout=10) as client:
        r = client.put(
            "/api/human-eval/pilot/sheets/a1",
            json={"rows": [{"instance_id": others[0], "hallucination": 3}]},
        )
        assert r.status_code == 422 and "not assigned to a1" in r.json()["error"]["message"]
        r = client.put(
            "/api/human-eval/pilot/sheets/a1",
            json={"rows": [{"instance_id": meta["orders"]["a1"][0], "hallucination": 6}]},
        )
        assert r.status_code == 422 and "hallucination" in r.json()["error"]["message"]
        r = client.get("/api/human-eval/pilot/sheets/zoe")
        assert r.status_code == 404 and "not in the assignment" in r.json()["error"]["message"]
        assert client.get("/api/human-eval/nope").status_code == 404
        assert client.get("/api/human-eval/..%2F..%2Fetc").status_code == 404
        r = client.get("/api/human-eval/pilot", headers={"Host": "evil.example"})
        assert r.status_code == 400  # the service's loopback Host rule applies


def test_token_guards_the_data_and_the_saves(run: Path) -> None:
    with (
        running(_app(run, ServiceSettings(token=TOKEN))) as base,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        assert client.get("/human-eval/pilot/").status_code == 200  # the page holds no data
        assert client.get("/api/human-eval/pilot").status_code == 401
        assert client.put("/api/human-eval/pilot/sheets/a1", json={"rows": []}).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/human-eval/pilot", headers=auth).status_code == 200


def test_saved_sheets_score(run: Path, url: str) -> None:
    folder = run / "human_eval" / "pilot"
    meta, _ = load(folder)
    with httpx.Client(base_url=url, timeout=10) as client:
        for a, order in meta["orders"].items():
            rows = [
                {"instance_id": i, "hallucination": 5, "plausibility": 4 + k % 2}
                for k, i in enumerate(order)
            ]
            assert (
                client.put(f"/api/human-eval/pilot/sheets/{a}", json={"rows": rows}).status_code
                == 200
            )
    scores, _ = score(folder, ScoreConfig(n_boot=0))
    assert scores.n_ratings == 12 and scores.scales["hallucination"].mean == 5.0
