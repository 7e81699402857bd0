import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from humanllm import executor, runfolder
from humanllm.cli import COMMANDS, GROUPS, app
from tests.test_executor import fake_a, fake_b

runner = CliRunner()


def test_every_stage_has_a_command_with_help() -> None:
    registered = {c.name for c in app.registered_commands}
    for name in executor.STAGES:
        assert name in registered, f"stage {name} has no CLI command"
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "--set" in result.output and "--run-dir" in result.output
    for name in ("run", "stats", "plan"):
        assert name in registered
    groups = {g.name for g in app.registered_groups}
    assert {"simulate", "human-eval"} <= groups
    for argv in (["plan", "--help"], ["human-eval", "--help"], ["human-eval", "sample", "--help"]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, result.output


def test_the_app_is_the_command_table() -> None:
    names = [c.name for c in app.registered_commands]
    assert names == list(COMMANDS)  # each once (no command registered and then replaced)
    assert [c.callback for c in app.registered_commands] == list(COMMANDS.values())
    assert [g.name for g in app.registered_groups] == list(GROUPS)
    assert names[: 1 + len(executor.STAGES)] == ["run", *executor.STAGES]
    for name in [*COMMANDS, *GROUPS]:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
    for name, stage in executor.STAGES.items():  # a stage command's help is the stage's
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "400"})
        assert stage.help.split(":")[0] in result.output, name
    evaluate = runner.invoke(app, ["evaluate", "--help"]).output
    train = runner.invoke(app, ["train", "--help"]).output
    assert "--report-only" in evaluate and "--launcher" in train and "--num-processes" in train


def test_unknown_stage_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources:\n  - {kind: reddit, path: x}\n")
    result = runner.invoke(
        app, ["run", str(cfg), "--run-dir", str(tmp_path / "r"), "--stages", "ingest,bogus"]
    )
    assert result.exit_code == 2
    assert "unknown stage" in result.output and "bogus" in result.output


def test_bad_config_exits_2_with_message(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources: []\n")
    result = runner.invoke(app, ["ingest", str(cfg), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "c.yaml" in result.output and "sources" in result.output


def test_run_and_stats_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = {
        "a": executor.Stage("a", fake_a, ("sources",), (), "stage a"),
        "b": executor.Stage("b", fake_b, ("sources", "filter"), ("a",), "stage b"),
    }
    monkeypatch.setattr(executor, "STAGES", table)
    monkeypatch.setattr(runfolder, "STAGE_FOLDERS", {})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sources:\n  - {kind: reddit, path: x}\n")
    run_dir = tmp_path / "run"
    result = runner.invoke(
        app, ["run", str(cfg), "--run-dir", str(run_dir), "--set", "filter.reddit.min_score=3"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["stats", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats == {
        "stages": {"a": {"s": {"records": 10, "users": 3}}, "b": {"s": {"records": 4, "users": 3}}}
    }
    table_out = runner.invoke(app, ["stats", str(run_dir)])
    assert table_out.exit_code == 0 and "records" in table_out.output


def test_stats_of_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stats", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such run folder" in result.output
