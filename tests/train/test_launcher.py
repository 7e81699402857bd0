"""``humanllm train --launcher accelerate --num-processes N``: the stage starts ``accelerate launch``
itself and writes its markers. A fake ``accelerate`` on PATH records its command line and runs the
module it was asked to run (one real process, as ``accelerate launch`` would with one GPU); the
multi-GPU launch itself (N > 1 processes on N GPUs) is not exercised on CPU-only CI."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from humanllm.cli import app
from humanllm.config import dump_config, load_config
from humanllm.executor import STARTED, StageError, run_stages
from humanllm.train.launch import LAUNCH_CONFIG, accelerate_command, find_accelerate
from tests.tasks.genome import config, genome_run, tables

FAKE = """#!{python}
# A stand-in for `accelerate launch`: note argv; then either run `-m MODULE ARGS` in one process
# (FAKE_ACCELERATE_RUN) or write what a finished run leaves in --out/final.
import json, os, pathlib, subprocess, sys
with open(os.environ["FAKE_ACCELERATE_LOG"], "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_ACCELERATE_FAIL"):
    sys.exit(7)
if os.environ.get("FAKE_ACCELERATE_RUN"):
    i = sys.argv.index("-m")
    sys.exit(subprocess.run([sys.executable, *sys.argv[i:]]).returncode)
final = pathlib.Path(sys.argv[sys.argv.index("--out") + 1]) / "final"
final.mkdir(parents=True)
summary = {{"global_step": 2, "base_model_path": "fake", "wall_s": 0.0, "metrics": {{}}}}
(final / "humanllm-train.json").write_text(json.dumps(summary))
"""


def test_the_command_line() -> None:
    cmd = accelerate_command(
        "/bin/accelerate",
        8,
        ["--num_machines", "2", "--machine_rank", "0"],
        Path("ck/humanllm-launch.yaml"),
        Path("run/tasks"),
        Path("run/checkpoints"),
        Path("run/tasks"),
    )
    assert cmd == [
        "/bin/accelerate",
        "launch",
        "--num_processes",
        "8",
        "--num_machines",
        "2",
        "--machine_rank",
        "0",
        "-m",
        "humanllm.train.launch",
        "ck/humanllm-launch.yaml",
        "--train",
        "run/tasks",
        "--out",
        "run/checkpoints",
        "--eval",
        "run/tasks",
    ]


@pytest.fixture
def fake_accelerate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "accelerate"
    exe.write_text(FAKE.format(python=sys.executable), encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "accelerate.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_ACCELERATE_LOG", str(log))
    return log


def _run_config(tmp_path: Path, base: Path) -> Path:
    cfg = config(
        tasks={"test_fraction": 0.34, "total_train": 8, "total_test": 4},
        train={
            "base_model": str(base),
            "total_batch_size": 2,
            "per_device_batch_size": 2,
            "max_length": 256,
            "gradient_checkpointing": False,
            "max_steps": 2,
            "save_steps": 1000,
            "logging_steps": 1,
            "cpu_threads": 1,
        },
    )
    path = tmp_path / "run.yaml"
    path.write_text(dump_config(cfg), encoding="utf-8")
    return path


def _launched(tmp_path: Path, base: Path, log: Path | None, n: int = 2) -> tuple[Path, Path, Any]:
    """``humanllm train --launcher accelerate --num-processes N`` after the tasks stage."""
    path = _run_config(tmp_path, base)
    cfg = load_config(path)
    run = tmp_path / "run"
    genome_run(run, cfg, tables(users_per_source=3))
    run_stages(cfg, run, ["tasks"])

    args = [
        "train",
        str(path),
        "-r",
        str(run),
        "--launcher",
        "accelerate",
        "--num-processes",
        str(n),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    ckpt = run / "checkpoints"
    if log is None:  # the real accelerate
        return run, ckpt, cfg
    (argv,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert argv == [
        "launch",
        "--num_processes",
        "2",
        "-m",
        "humanllm.train.launch",
        str(ckpt / LAUNCH_CONFIG),
        "--train",
        str(run / "tasks"),
        "--out",
        str(ckpt),
    ]
    handed: Any = yaml.safe_load((ckpt / LAUNCH_CONFIG).read_text(encoding="utf-8"))
    assert handed["train"]["base_model"] == str(base) and "launch" not in handed["train"]
    done = json.loads((ckpt / "_SUCCESS.json").read_text(encoding="utf-8"))
    assert done["global_step"] == 2 and done["final"] == str(ckpt / "final")
    assert not (ckpt / STARTED).exists()
    return run, ckpt, cfg


def test_train_under_the_launcher_writes_the_stage_markers(
    tiny_model: Path, tmp_path: Path, fake_accelerate: Path
) -> None:
    run, ckpt, cfg = _launched(tmp_path, tiny_model, fake_accelerate)
    # the launcher is not part of what is trained: a plain `humanllm train` finds it finished
    assert run_stages(cfg, run, ["train"]) == {"train": "skipped"}
    assert (ckpt / "final" / "humanllm-train.json").is_file()


@pytest.mark.slow
def test_the_launched_module_trains(
    tiny_model: Path, tmp_path: Path, fake_accelerate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launched command really trains (one process, as accelerate runs it with one GPU)."""
    monkeypatch.setenv("FAKE_ACCELERATE_RUN", "1")
    _, ckpt, _ = _launched(tmp_path, tiny_model, fake_accelerate)
    assert (ckpt / "final" / "model.safetensors").is_file()


@pytest.mark.slow
def test_the_real_accelerate_launch_on_cpu(tiny_model: Path, tmp_path: Path) -> None:
    """The real ``accelerate launch`` (on a machine without GPUs it starts one process)."""
    if find_accelerate() is None:
        pytest.skip("accelerate is not installed")
    run, ckpt, cfg = _launched(tmp_path, tiny_model, None, n=1)
    done = json.loads((ckpt / "_SUCCESS.json").read_text(encoding="utf-8"))
    assert done["global_step"] == 2 and (ckpt / "final" / "model.safetensors").is_file()
    assert run_stages(cfg, run, ["train"]) == {"train": "skipped"}


def test_a_failed_launch_is_a_stage_error_without_success(
    tiny_model: Path, tmp_path: Path, fake_accelerate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _run_config(tmp_path, tiny_model)
    cfg = load_config(path, ["train.launch.launcher=accelerate"])
    run = tmp_path / "run"
    genome_run(run, cfg, tables(users_per_source=3))
    run_stages(cfg, run, ["tasks"])
    monkeypatch.setenv("FAKE_ACCELERATE_FAIL", "1")
    with pytest.raises(StageError, match="exited with code 7"):
        run_stages(cfg, run, ["train"])
    assert not (run / "checkpoints" / "_SUCCESS.json").exists()
    assert (run / "checkpoints" / STARTED).is_file()  # a re-run resumes this folder


def test_no_accelerate_is_a_clear_error(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import humanllm.train.launch as launch

    path = _run_config(tmp_path, tiny_model)
    cfg = load_config(path, ["train.launch.launcher=accelerate"])
    run = tmp_path / "run"
    genome_run(run, cfg, tables(users_per_source=3))
    run_stages(cfg, run, ["tasks"])
    monkeypatch.setattr(launch, "find_accelerate", lambda: None)
    with pytest.raises(StageError, match="pip install accelerate"):
        run_stages(cfg, run, ["train"])


def test_the_stage_and_the_launched_process_train_through_one_function(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``humanllm train`` in process and the module ``accelerate launch`` runs both call
    :func:`~humanllm.train.launch.fine_tune` (a recording stand-in here: nothing is trained)."""
    import humanllm.train.launch as launch

    calls: list[tuple[list[Path], Path, list[Path] | None]] = []

    def recording(cfg: Any, train: list[Path], out: Path, eval_: list[Path] | None = None) -> Path:
        calls.append((list(train), out, eval_))
        (out / "final").mkdir(parents=True, exist_ok=True)
        summary = {"global_step": 1, "base_model_path": "fake", "wall_s": 0.0, "metrics": {}}
        (out / "final" / "humanllm-train.json").write_text(json.dumps(summary))
        return out / "final"

    monkeypatch.setattr(launch, "fine_tune", recording)
    path = _run_config(tmp_path, tiny_model)
    cfg = load_config(path)
    run = tmp_path / "run"
    genome_run(run, cfg, tables(users_per_source=3))
    run_stages(cfg, run, ["tasks"])
    result = CliRunner().invoke(app, ["train", str(path), "-r", str(run)])
    assert result.exit_code == 0, result.output
    child = CliRunner().invoke(
        launch.app, [str(path), "--train", str(run / "tasks"), "--out", str(tmp_path / "ck")]
    )
    assert child.exit_code == 0, child.output
    assert calls == [
        ([run / "tasks"], run / "checkpoints", None),
        ([run / "tasks"], tmp_path / "ck", None),
    ]
