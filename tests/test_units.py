"""The unit contract (:mod:`humanllm.units`) on every curation stage that has units: a run unit
by unit, a run killed between units and resumed, and a run in a pool of two processes write the
same outputs; a resumed stage runs only the units without a marker.

The model is a real OpenAI-compatible HTTP server on 127.0.0.1 (pool workers build their own
backend from the config, so nothing is patched into them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from humanllm import units
from humanllm.config import RunConfig, validate_config
from humanllm.executor import STAGES, run_stages, stage_dir
from humanllm.runfolder import RunFolder
from tests.curation.fake_model import jsonl_source
from tests.curation.http_model import ModelServer, model_server

FLOW = ["ingest", "filter", "clean", "label", "users", "scenarios", "social_qa", "qc", "genome"]
UNIT_STAGES = [s for s in FLOW if STAGES[s].units is not None]
OUTPUTS = ["cleaned", "labeled", "users", "scenarios", "social_qa", "qc", "genome", "rejects"]
WORDS = [
    "morning",
    "walk",
    "sister",
    "letter",
    "garden",
    "marathon",
    "kitchen",
    "river",
    "train",
    "music",
]


@pytest.fixture(scope="module")
def server() -> Any:
    with model_server() as s:
        yield s


def config(tmp_path: Path, url: str, **executor: Any) -> RunConfig:
    posts = tmp_path / "posts.jsonl"
    if not posts.exists():
        rows = []
        for u in range(9):
            for i in range(3):
                words = " ".join(WORDS[(u + i + k) % len(WORDS)] for k in range(12))
                text = f"I remember the {words} and how I felt that day with user {u}."
                ts = 1_600_000_000 + (u * 3 + i) * 86400
                rows.append({"id": f"p{u}-{i}", "author": f"u{u}", "body": text, "ts": ts})
        posts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return validate_config(
        {
            "sources": [{**jsonl_source(posts), "batch_size": 7}],
            "llm": {
                "backends": {
                    "embedded": {"kind": "openai", "base_url": url, "model": "t", "timeout_s": 10}
                },
                "runner": {"max_retries": 1, "backoff_base_s": 0.01, "backoff_max_s": 0.02},
            },
            "curation": {"users": {"profile_min_words": 100}},
            "executor": {"records_per_unit": 8, "rows_in_flight": 7, **executor},
        }
    )


def outputs(run: Path, folders: list[str] = OUTPUTS) -> dict[str, list[dict[str, Any]]]:
    """Every output folder's rows, order-free (shards concatenated, rows sorted)."""
    out = {}
    for folder in folders:
        files = sorted((run / folder).glob("*.parquet"))
        if not files:
            out[folder] = []
            continue
        df = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
        cols = [c for c in df.columns if df.schema[c] in (pl.String, pl.Int64, pl.Boolean)]
        out[folder] = df.sort(cols).to_dicts()
    return out


def counts(run: Path) -> dict[str, Any]:
    rf = RunFolder(run)
    return {s: (rf.success(stage_dir(s)) or {}).get("counts") for s in UNIT_STAGES}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, server: ModelServer) -> Path:
    tmp = tmp_path_factory.mktemp("reference")
    run_stages(config(tmp, server.url), tmp / "run", FLOW)
    return tmp / "run"


def test_stages_are_cut_into_several_units(reference: Path) -> None:
    assert set(UNIT_STAGES) == {"clean", "label", "users", "scenarios", "social_qa", "qc"}
    for stage in UNIT_STAGES:
        markers = list((reference / stage_dir(stage) / units.UNITS_DIR).glob("*.json"))
        assert len(markers) >= 3, f"{stage}: {len(markers)} units"
        info = RunFolder(reference).success(stage_dir(stage))
        assert info is not None and info["units"] == len(markers)
    assert outputs(reference)["users"], "the flow must give users to compare"
    assert outputs(reference)["qc"]


@pytest.mark.parametrize("stage", ["clean", "label", "users", "scenarios", "social_qa", "qc"])
def test_a_stage_killed_between_units_resumes_where_it_stopped(
    stage: str,
    tmp_path: Path,
    server: ModelServer,
    reference: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = config(tmp_path, server.url)
    run = tmp_path / "run"
    upstream = FLOW[: FLOW.index(stage)]
    run_stages(cfg, run, upstream)

    marked: list[str] = []
    real_mark = units.mark_unit

    def dies_after_two(path: Path, fp: str, unit: units.Unit, result: units.UnitResult) -> None:
        if len(marked) == 2:
            raise KeyboardInterrupt("killed between units")
        real_mark(path, fp, unit, result)
        marked.append(unit.id)

    monkeypatch.setattr(units, "mark_unit", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_stages(cfg, run, [stage])
    assert RunFolder(run).success(stage_dir(stage)) is None
    monkeypatch.setattr(units, "mark_unit", real_mark)

    ran: list[str] = []
    real_run_one = units._run_one

    async def counting(ctx, plan, unit, session):  # type: ignore[no-untyped-def]
        ran.append(unit.id)
        return await real_run_one(ctx, plan, unit, session)

    monkeypatch.setattr(units, "_run_one", counting)
    run_stages(cfg, run, [stage])
    total = RunFolder(run).success(stage_dir(stage))["units"]  # type: ignore[index]
    assert sorted(ran) == sorted(set(ran)) and not set(ran) & set(marked)
    assert len(ran) == total - 2  # only the units without a marker ran again
    mine = [stage_dir(stage), "rejects"]
    assert outputs(run, mine)[mine[0]] == outputs(reference, mine)[mine[0]]
    rejects = [r for r in outputs(run, mine)["rejects"] if r["stage"] == stage]
    assert rejects == [r for r in outputs(reference, mine)["rejects"] if r["stage"] == stage]
    assert counts(run)[stage] == counts(reference)[stage]


def test_a_pool_of_two_workers_writes_what_one_process_writes(
    tmp_path: Path, server: ModelServer, reference: Path
) -> None:
    run = tmp_path / "run"
    run_stages(config(tmp_path, server.url, workers=2), run, FLOW)
    assert outputs(run) == outputs(reference)
    assert counts(run) == counts(reference)


def test_in_one_process_units_run_side_by_side(
    tmp_path: Path, server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for several units' rows in flight, a second unit starts before the first ends."""
    cfg = config(tmp_path, server.url, rows_in_flight=1000)
    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter"])
    live, most = 0, 0
    real_run_one = units._run_one

    async def tracking(ctx, plan, unit, session):  # type: ignore[no-untyped-def]
        nonlocal live, most
        live += 1
        most = max(most, live)
        try:
            return await real_run_one(ctx, plan, unit, session)
        finally:
            live -= 1

    monkeypatch.setattr(units, "_run_one", tracking)
    run_stages(cfg, run, ["clean"])
    assert most >= 2


def test_a_pool_where_no_server_answers_stops_the_stage_before_any_unit(
    tmp_path: Path, server: ModelServer
) -> None:
    import socket

    from humanllm.llm.base import OutageError

    ports = []
    for _ in range(2):  # two ports nothing listens on
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    urls = [f"http://127.0.0.1:{p}/v1" for p in ports]
    cfg = config(tmp_path, server.url)
    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter"])
    data = cfg.model_dump(mode="json")
    data["llm"]["backends"]["embedded"] = {"kind": "openai", "base_urls": urls, "model": "t"}
    with pytest.raises(OutageError) as e:
        run_stages(validate_config(data), run, ["clean"])
    assert all(u in str(e.value) for u in urls) and "/models" in str(e.value)
    assert not list((run / "cleaned" / units.UNITS_DIR).glob("*.json"))


def test_a_shard_bigger_than_a_unit_is_cut_into_row_ranges(
    tmp_path: Path, server: ModelServer, reference: Path
) -> None:
    run = tmp_path / "run"
    run_stages(config(tmp_path, server.url, records_per_unit=3), run, FLOW[:4])
    markers = sorted(p.stem for p in (run / "cleaned" / units.UNITS_DIR).glob("*.json"))
    shards = [p.stem for p in (run / "filtered").glob("*.parquet")]
    assert len(markers) > len(shards) and any(".r00001" in m for m in markers)
    mine = ["cleaned", "labeled"]
    assert outputs(run, mine) == outputs(reference, mine)
    assert counts(run)["clean"] == counts(reference)["clean"]
