"""``humanllm plan`` on the quick-start sample: its counts against a real run of the same config
with the same scripted model, the pilot's rates, --sample scaling, --json and bad configs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from humanllm.cli import app
from humanllm.config import load_config
from humanllm.executor import run_stages, stage_dir
from humanllm.llm import session
from humanllm.llm.base import ChatRequest, ChatResponse
from humanllm.llm.scripted import ScriptedBackend
from humanllm.plan import make_plan
from humanllm.plan.counts import CURATION
from humanllm.plan.project import Plan, StagePlan
from humanllm.runfolder import RunFolder
from tests.curation.fake_model import fenced, reply
from tests.curation.http_model import model_server

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
SAMPLE = ROOT / "data" / "sample"
STAGES = ["ingest", "filter", *CURATION]
runner = CliRunner()


def _low_by_hash(req: ChatRequest) -> str | ChatResponse:
    """The curation test model, but the labeller calls about half the records low quality (by
    a hash of the record: the same record gets the same label in the pilot and the run)."""
    if req.schema_name == "Labels":
        record = fenced(req)["record"]
        low = hashlib.sha256(record.encode()).digest()[0] % 2 == 1
        return json.dumps({"quality": "low" if low else "high", "harmful": False, "rationale": "t"})
    return reply(req)


def _scripted(monkeypatch: pytest.MonkeyPatch, script=reply) -> ScriptedBackend:  # type: ignore[no-untyped-def]
    backend = ScriptedBackend(script, model_id="scripted-plan")

    def reopen(cfg: object) -> ScriptedBackend:  # every stage closes its backend when it ends
        backend.closed = False
        return backend

    monkeypatch.setattr(session, "make_backend", reopen)
    return backend


def _real_run(cfg, run: Path) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    run_stages(cfg, run, STAGES)
    folder = RunFolder(run)
    return {s: folder.success(stage_dir(s)) or {} for s in STAGES}


def _rows(plan: Plan) -> dict[str, StagePlan]:
    return {s.stage: s for s in plan.stages}


@pytest.mark.parametrize("pilot", [0, 8])
def test_counts_equal_a_real_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pilot: int
) -> None:
    backend = _scripted(monkeypatch)
    cfg = load_config(QUICKSTART, ["curation.clean.max_input_chars=400"])  # long posts in parts
    plan, _ = make_plan(cfg, pilot=pilot, work_dir=tmp_path / "plan")
    asked_by_pilot = backend.calls
    assert (asked_by_pilot > 0) == (pilot > 0)  # K = 0 asks no model
    done = _real_run(cfg, tmp_path / "run")

    rows = _rows(plan)
    assert rows["clean"].requests > sum(v["records"] for v in plan.sources.values())
    for stage in CURATION:  # a model that never fails: the requests are exact
        assert round(rows[stage].requests) == done[stage]["llm"]["requests"], stage
    for src, v in plan.sources.items():
        assert v["raw"] == done["ingest"]["sources"][src]["records"]
        assert v["filtered"] == done["filter"]["sources"][src]["records"]
        assert v["records"] == done["clean"]["counts"][src]["in"]
        a1 = plan.table_a1[src]
        assert round(a1["df_texts"]) == done["label"]["counts"][src]["out"]
        assert round(a1["ds_users"]) == done["users"]["counts"][src]["out"]
        narrative = done["scenarios"]["counts"].get(src, {"out": 0})
        assert round(a1["ds_scenarios"]) == narrative["out"]
        qa = done["social_qa"]["counts"].get(src, {"out": 0})
        assert round(a1["ds_social_qa"]) == qa["out"]
    if pilot:  # the pilot's own stages asked about K records, and gave the completion sizes
        assert plan.pilot is not None and plan.pilot.stages["clean"].records_in <= pilot
        assert rows["clean"].completion_basis == "pilot"
        m = plan.pilot.stages["label"]
        assert rows["label"].completion_tokens == pytest.approx(
            rows["label"].requests * m.tokens_out / m.requests
        )
        kept = done["qc"]["kept"]
        judged = done["qc"]["judged"]
        assert plan.rates["qc.user.keep"].value == kept["user"] / judged["user"] == 1.0
    else:
        assert rows["clean"].completion_basis == "max_tokens bound"
        assert rows["clean"].completion_tokens == rows["clean"].requests * 400
        assert plan.rates["qc.scenario.keep"].value == 0.4  # the paper's share


def test_pilot_keep_share_covers_the_real_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scripted(monkeypatch, _low_by_hash)
    cfg = load_config(QUICKSTART, ["curation.label.keep_quality=[high]"])
    plan, _ = make_plan(cfg, pilot=8, work_dir=tmp_path / "plan")
    rate = plan.rates["label.keep"]
    assert rate.basis == "pilot" and rate.ci95 is not None and 0 < rate.n <= 8
    done = _real_run(cfg, tmp_path / "run")
    label = done["label"]["counts"]
    real = sum(c["out"] for c in label.values()) / sum(c["in"] for c in label.values())
    assert 0 < real < 1, "the hash labeller should drop some records and keep some"
    assert rate.ci95[0] <= real <= rate.ci95[1]
    projected = sum(r["df_texts"] for r in plan.table_a1.values())
    assert projected == pytest.approx(rate.value * sum(c["in"] for c in label.values()))


def test_sample_scales_by_the_sources_total_rows(tmp_path: Path) -> None:
    cfg = load_config(QUICKSTART)
    plan, _ = make_plan(cfg, sample=5, work_dir=tmp_path / "plan")
    reddit_rows = sum(
        pq.ParquetFile(f).metadata.num_rows for f in (SAMPLE / "reddit").glob("*.parquet")
    )
    amazon_lines = sum(
        1 for line in (SAMPLE / "amazon" / "Sample_Category.jsonl").open() if line.strip()
    )
    expect = {"reddit": reddit_rows, "amazon": amazon_lines}
    for src, total in expect.items():
        info = plan.sources[src]
        assert info["sample"]["sampled"] == 5 and info["sample"]["total"] == total
        assert info["factor"] == pytest.approx(total / 5)
        assert plan.table_a1[src]["raw_texts"] == pytest.approx(info["raw"] * total / 5)
    assert plan.sources["reddit"]["raw"] <= 5  # only the sample was ingested
    blog = plan.sources["blogger"]["sample"]  # Blogger: whole files (one blogger each)
    assert blog["sampled"] >= 5 and blog["total"] == 22


def test_json_output_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(QUICKSTART), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["schema_version"] == 1 and out["pilot_k"] == 0 and out["pilot"] is None
    assert set(out) >= {"sources", "rates", "stages", "totals", "table_a1", "assumptions"}
    stages = [s["stage"] for s in out["stages"]]
    assert stages[: len(CURATION)] == list(CURATION) and "train" in stages
    for s in out["stages"]:
        assert set(s) == {
            "stage", "backend", "requests", "prompt_tokens", "completion_tokens",
            "completion_basis", "tokenizer", "hours", "gpu_hours", "cost", "note",
        }  # fmt: skip
    assert out["totals"]["requests"] == sum(s["requests"] for s in out["stages"])
    assert set(out["table_a1"]) == {"reddit", "twitter", "blogger", "amazon"}
    assert out["rates"]["qc.user.keep"] == {"value": 0.7, "basis": "paper", "n": 0, "ci95": None}


def test_table_output_and_declared_throughput_and_prices() -> None:
    result = runner.invoke(
        app,
        [
            "plan", str(QUICKSTART),
            "--set", "llm.backends.embedded.throughput_tokens_per_s=100",
            "--set", "llm.backends.embedded.gpus=2",
            "--set", "llm.backends.embedded.price_per_1k_output=1.5",
            "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    clean = json.loads(result.stdout)["stages"][0]
    assert clean["hours"] == pytest.approx(clean["completion_tokens"] / 100 / 3600, abs=1e-4)
    assert clean["gpu_hours"] == pytest.approx(2 * clean["hours"], abs=1e-4)
    assert clean["cost"] == pytest.approx(clean["completion_tokens"] * 1.5 / 1000, abs=1e-4)
    table = runner.invoke(app, ["plan", str(QUICKSTART)])
    assert table.exit_code == 0, table.output
    for needle in ("Projected requests", "Total", "Table A1", "qc.user.keep"):
        assert needle in table.stdout


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["plan", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources:\n  - {kind: reddit, path: no-such-folder}\n")
    result = runner.invoke(app, ["plan", str(cfg)])
    assert result.exit_code == 2
    assert "no-such-folder" in result.output and "no input files" in result.output
    cfg.write_text("sources:\n  - {kind: reddit, path: x}\nllm: {backends: {a: {kind: openai}}}\n")
    result = runner.invoke(app, ["plan", str(cfg)])
    assert result.exit_code == 2 and "model" in result.output


def _openai(url: str) -> list[str]:
    backend = f"{{kind: openai, base_url: '{url}', model: test, timeout_s: 10}}"
    return [f"llm.backends.embedded={backend}", "llm.runner.max_retries=0"]


def test_pilot_through_a_real_http_server(tmp_path: Path) -> None:
    with model_server() as server:
        cfg = load_config(QUICKSTART, _openai(server.url))
        plan, counts = make_plan(cfg, pilot=8, work_dir=tmp_path / "plan")
    assert plan.pilot is not None
    asked = sum(m.requests for m in plan.pilot.stages.values())
    assert asked == server.chat_requests > 0
    rows = _rows(plan)
    for stage in CURATION:  # the stub's usage says 10 completion tokens per reply
        assert rows[stage].completion_basis == "pilot"
        assert rows[stage].completion_tokens == pytest.approx(10 * rows[stage].requests)
    assert counts.tokenizers["clean"].startswith("approx")  # a remote model: no tokenizer here


def test_pilot_outage_is_a_clear_error(tmp_path: Path) -> None:
    with model_server() as server:
        server.outage = True
        args = ["plan", str(QUICKSTART), "--pilot", "4"]
        for s in _openai(server.url):
            args += ["--set", s]
        result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--pilot 4" in result.output and "stage 'clean'" in result.output
    assert "503" in result.output
