import json
from pathlib import Path

import polars as pl
import pytest

from humanllm import executor, runfolder
from humanllm.config import validate_config
from humanllm.executor import Stage, StageContext, StageError, StageResult, run_stages
from humanllm.records import RECORD_SCHEMA
from humanllm.runfolder import RunFolder, SourceCounts

CALLS: list[str] = []


def _records(n: int, users: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["s"] * n,
            "record_id": [f"r{i}" for i in range(n)],
            "user_id": [f"u{i % users}" for i in range(n)],
            "created_at": [None] * n,
            "text": ["x"] * n,
            "title": [None] * n,
            "meta": ["{}"] * n,
        },
        schema=RECORD_SCHEMA,
    )


def fake_a(ctx: StageContext) -> StageResult:
    CALLS.append("a")
    ctx.run.write_shard("a", "s-00000", _records(10, 3))
    return StageResult(counts={"s": SourceCounts(10, 10, 0)})


def fake_b(ctx: StageContext) -> StageResult:
    CALLS.append("b")
    df = ctx.run.scan("a").collect()  # type: ignore[union-attr]
    keep = df.head(4)
    ctx.run.write_shard("b", "s-00000", keep)
    drop = (
        df.tail(df.height - 4).select("record_id").with_columns(pl.lit("test.rule").alias("reason"))
    )
    n = ctx.run.write_rejects(ctx.stage, "s", "s", drop)
    return StageResult(counts={"s": SourceCounts(df.height, keep.height, n)})


@pytest.fixture
def fake_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    CALLS.clear()
    table = {
        "a": Stage("a", fake_a, ("sources",), (), "stage a"),
        "b": Stage("b", fake_b, ("sources", "filter"), ("a",), "stage b"),
    }
    monkeypatch.setattr(executor, "STAGES", table)
    monkeypatch.setattr(runfolder, "STAGE_FOLDERS", {})


def cfg(min_score: int = 2):
    return validate_config(
        {
            "sources": [{"kind": "reddit", "path": "x"}],
            "filter": {"reddit": {"min_score": min_score}},
        }
    )


def test_runs_then_skips_finished_stages(tmp_path: Path, fake_stages: None) -> None:
    assert run_stages(cfg(), tmp_path) == {"a": "ran", "b": "ran"}
    assert run_stages(cfg(), tmp_path) == {"a": "skipped", "b": "skipped"}
    assert CALLS == ["a", "b"]
    info = json.loads((tmp_path / "b" / "_SUCCESS.json").read_text())
    assert info["counts"]["s"] == {"in": 10, "out": 4, "rejected": 6}
    assert info["sources"]["s"] == {"records": 4, "users": 3}
    assert info["wall_s"] >= 0 and len(info["config_hash"]) == 16
    assert (tmp_path / "config.yaml").is_file()


def test_changed_config_reruns_only_dependent_stages(tmp_path: Path, fake_stages: None) -> None:
    run_stages(cfg(), tmp_path)
    CALLS.clear()
    assert run_stages(cfg(min_score=7), tmp_path) == {"a": "skipped", "b": "ran"}
    assert CALLS == ["b"]


def test_rerun_replaces_rejects_instead_of_duplicating(tmp_path: Path, fake_stages: None) -> None:
    run_stages(cfg(), tmp_path)
    run_stages(cfg(), tmp_path, ["b"], force=True)
    rejects = RunFolder(tmp_path).scan_rejects("b").collect()  # type: ignore[union-attr]
    assert rejects.height == 6
    assert set(rejects["reason"]) == {"test.rule"}
    assert set(rejects.columns) == {"stage", "source", "record_id", "reason", "detail"}


def test_missing_upstream_is_a_clear_error(tmp_path: Path, fake_stages: None) -> None:
    with pytest.raises(StageError, match="needs 'a'"):
        run_stages(cfg(), tmp_path, ["b"])


def test_interrupted_stage_leaves_no_success_and_reruns(
    tmp_path: Path, fake_stages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(ctx: StageContext) -> StageResult:
        ctx.run.write_shard("a", "s-00000", _records(2, 1))
        raise KeyboardInterrupt

    monkeypatch.setitem(executor.STAGES, "a", Stage("a", boom, ("sources",), (), "a"))
    with pytest.raises(KeyboardInterrupt):
        run_stages(cfg(), tmp_path, ["a"])
    assert not (tmp_path / "a" / "_SUCCESS.json").exists()
    monkeypatch.setitem(executor.STAGES, "a", Stage("a", fake_a, ("sources",), (), "a"))
    assert run_stages(cfg(), tmp_path, ["a"]) == {"a": "ran"}
    assert RunFolder(tmp_path).scan("a").collect().height == 10  # type: ignore[union-attr]


def test_atomic_shard_write_leaves_no_temp_files(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.write_shard("x", "s-00000", _records(3, 1))
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["s-00000.parquet"]


def test_rerun_clears_rejects_of_a_stage_whose_folder_has_another_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_stages: None
) -> None:
    monkeypatch.setattr(runfolder, "STAGE_FOLDERS", {"b": "b_out"})

    runs: list[int] = []

    def b_to_other_folder(ctx: StageContext) -> StageResult:
        runs.append(1)  # a re-run may shard differently: its rejects must not pile up
        drop = pl.DataFrame({"record_id": ["r1"], "reason": ["test.rule"]})
        n = ctx.run.write_rejects(ctx.stage, "s", f"s{len(runs)}", drop)
        ctx.run.write_shard("b_out", "s-00000", _records(1, 1))
        return StageResult(counts={"s": SourceCounts(1, 1, n)})

    monkeypatch.setitem(
        executor.STAGES, "b", Stage("b", b_to_other_folder, ("sources",), ("a",), "b")
    )
    run_stages(cfg(), tmp_path)
    run_stages(cfg(), tmp_path, ["b"], force=True)
    rejects = RunFolder(tmp_path).scan_rejects("b").collect()  # type: ignore[union-attr]
    assert rejects.height == 1
