"""A model server that goes away: the stage stops unfinished and nothing is lost for good.

The curation stages run against a real OpenAI-compatible server on 127.0.0.1 that can be switched
to answer 503 to everything (an outage longer than every retry) or prose instead of JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from humanllm.cli import EXIT_OUTAGE, app
from humanllm.config import validate_config
from humanllm.executor import run_stages
from humanllm.llm.base import OutageError
from humanllm.llm.cache import RequestCache
from humanllm.runfolder import RunFolder
from tests.curation.fake_model import jsonl_source
from tests.curation.http_model import ModelServer, model_server

STAGES = ["ingest", "filter", "clean", "label", "users", "scenarios", "social_qa", "qc", "genome"]
POSTS = [
    ("u1", "I finally called my sister after months of silence and we talked for hours."),
    ("u1", "We hiked the ridge trail on Sunday and I cried at the top of the hill."),
    ("u2", "I told my boss I was quitting and my hands were shaking the whole time."),
    ("u2", "I planted tomatoes with my son and he named every single plant."),
    ("u3", "I ran my first marathon and my knees gave up at mile twenty."),
    ("u3", "I wrote a long letter to my grandmother in Polish last night."),
]


@pytest.fixture
def server() -> Any:
    with model_server() as s:
        yield s


def config_dict(tmp_path: Path, url: str) -> dict[str, Any]:
    posts = tmp_path / "posts.jsonl"
    if not posts.exists():
        rows = [
            {"id": f"{u}-{i}", "author": u, "body": text, "ts": 1_600_000_000 + i * 86400}
            for i, (u, text) in enumerate(POSTS)
        ]
        posts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {
        "sources": [jsonl_source(posts)],
        "llm": {
            "backends": {
                "embedded": {"kind": "openai", "base_url": url, "model": "test", "timeout_s": 10}
            },
            "runner": {
                "max_retries": 1,
                "max_invalid_retries": 0,
                "backoff_base_s": 0.01,
                "backoff_max_s": 0.02,
            },
        },
        "curation": {"users": {"profile_min_words": 100}},
    }


def genome_tables(run: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name in ("users", "records", "scenarios", "social_qa"):
        df = pl.read_parquet(run / "genome" / f"{name}.parquet")
        out[name] = df.sort(df.columns[:2]).to_dicts()
    return out


def cached_statuses(run: Path) -> list[str]:
    with RequestCache.in_run(run) as cache:
        return [r.status for r in cache.replies()]


def test_an_outage_stops_the_stage_and_a_rerun_recovers_everything(
    tmp_path: Path, server: ModelServer
) -> None:
    cfg = validate_config(config_dict(tmp_path, server.url))
    reference = tmp_path / "reference"
    run_stages(cfg, reference, STAGES)  # a run that never saw the outage
    assert len(pl.read_parquet(reference / "genome" / "users.parquet")) == 3

    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter"])
    server.outage = True
    with pytest.raises(OutageError) as e:
        run_stages(cfg, run, STAGES)
    message = str(e.value)
    # the share is checked per unit (here one input shard): every record of the unit failed
    assert "'clean'" in message and re.search(r"(\d+) of \1 records", message)
    assert server.url in message
    assert "503" in message or "down" in message
    assert RunFolder(run).success("cleaned") is None  # not marked finished
    assert "transient" not in cached_statuses(run)  # the outage is not an answer

    server.outage = False
    before = server.chat_requests
    run_stages(cfg, run, STAGES)  # a plain re-run, server back
    assert server.chat_requests - before >= len(POSTS)  # the lost records were asked again
    assert genome_tables(run) == genome_tables(reference)
    assert RunFolder(run).scan_rejects("clean") is None  # no transient reject left behind


def test_a_transient_failure_cached_by_an_older_version_is_asked_again(
    tmp_path: Path, server: ModelServer
) -> None:
    cfg = validate_config(config_dict(tmp_path, server.url))
    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter", "clean"])
    with RequestCache.in_run(run) as cache:  # as the old engine left it: failures stored
        for r in list(cache.replies()):
            cache.put(dataclasses.replace(r, status="transient", text=None, parsed=None))
        cache.flush(10.0)
    before = server.chat_requests
    run_stages(cfg, run, ["clean"], force=True)
    assert server.chat_requests - before == len(POSTS)
    assert len(RunFolder(run).scan("cleaned").collect()) == len(POSTS)  # type: ignore[union-attr]


def test_cli_outage_exit_code_and_retry_rejects(tmp_path: Path, server: ModelServer) -> None:
    import yaml

    cfg_path = tmp_path / "run.yaml"
    cfg_path.write_text(yaml.safe_dump(config_dict(tmp_path, server.url)))
    run = tmp_path / "run"
    cli = CliRunner()
    args = ["run", str(cfg_path), "--run-dir", str(run), "--stages", "ingest,filter,clean"]

    server.outage = True
    result = cli.invoke(app, args)
    assert result.exit_code == EXIT_OUTAGE, result.output
    assert "transient" in result.output and "not marked finished" in result.output

    server.outage, server.invalid = False, True  # back, but answering nonsense
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output  # invalid replies are rejects, not an outage
    rejects = RunFolder(run).scan_rejects("clean").collect()  # type: ignore[union-attr]
    assert set(rejects["reason"]) == {"llm.invalid_json"} and len(rejects) == len(POSTS)

    server.invalid = False
    before = server.chat_requests
    assert cli.invoke(app, [*args, "--force"]).exit_code == 0
    assert server.chat_requests == before  # cached rejects are final without the flag
    result = cli.invoke(app, [*args, "--retry-rejects"])
    assert result.exit_code == 0, result.output
    assert server.chat_requests - before == len(POSTS)
    assert len(RunFolder(run).scan("cleaned").collect()) == len(POSTS)  # type: ignore[union-attr]
    assert RunFolder(run).scan_rejects("clean") is None
