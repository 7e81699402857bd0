"""Entry point for ``accelerate launch`` (and plain ``python -m``): fine-tune from a YAML config.

One process, CPU or one GPU::

    python -m humanllm.train.launch configs/paper.yaml --train runs/x/tasks --out runs/x/checkpoints

Eight GPUs on one machine (``total_batch_size`` stays the total: accumulation is recomputed from
the number of processes), DeepSpeed ZeRO from the config (``train.deepspeed: zero3``)::

    accelerate launch --num_processes 8 -m humanllm.train.launch configs/paper.yaml \\
        --train runs/x/tasks --out runs/x/checkpoints

Two machines of 8 GPUs: run on each, with its own ``--machine_rank`` (0 on the main one)::

    accelerate launch --num_machines 2 --machine_rank R --main_process_ip HOST --main_process_port 29500 \\
        --num_processes 16 -m humanllm.train.launch configs/paper.yaml --train runs/x/tasks --out runs/x/checkpoints

``--out`` must be on a file system every machine sees (checkpoints and ``final/`` are written by
the main process; resuming reads them back on all). Re-running the same command after an
interruption resumes from the newest checkpoint. The multi-GPU and DeepSpeed paths are untested on
CPU-only CI.

Training has one path, :func:`fine_tune`: the ``train`` stage calls it in process (through
:func:`run_training`) and every process ``accelerate launch`` starts calls it from :func:`main`.

``humanllm train CONFIG -r RUN --launcher accelerate --num-processes 8`` runs this module under
``accelerate launch`` itself (:func:`accelerate_command`), inside the ``train`` stage, so the
stage's markers are written and a later ``humanllm train`` finds the run finished. accelerate
picks the multi-GPU launcher itself when it sees several GPUs; on a machine without GPUs it
starts one process whatever N is (tested there with 1; more accelerate flags go in
``train.launch.args``).

CONFIG is a run config (its ``train:`` section is used) or a mapping of
:class:`~humanllm.train.config.TrainConfig` fields; ``--set key=value`` overrides a field.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def load_train_config(path: Path, overrides: list[str] | None = None) -> Any:
    """The :class:`TrainConfig` of a YAML file (its ``train:`` section when there is one)."""
    from humanllm.config import ConfigError, apply_override
    from humanllm.train.config import TrainConfig

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read config ({e})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    section = dict(data.get("train", data) or {})
    for assignment in overrides or []:
        apply_override(section, assignment)
    try:
        return TrainConfig.model_validate(section)
    except ValidationError as e:
        lines = [f"{path}: invalid train configuration"]
        lines += [f"  {'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise ConfigError("\n".join(lines)) from e


def _expand(paths: list[Path], split: str) -> list[Path]:
    from humanllm.train.data import SFTDataError, task_files

    files: list[Path] = []
    for p in paths:
        if not p.exists():
            raise SFTDataError(f"{p}: no such task file or tasks folder")
        files += task_files(p, split) if p.is_dir() else [p]
    return files


#: The resolved train config handed to the launched processes (in the output folder).
LAUNCH_CONFIG = "humanllm-launch.yaml"


def find_accelerate() -> str | None:
    """The ``accelerate`` command: on ``PATH``, else beside this Python (an unactivated venv)."""
    beside = Path(sys.executable).with_name("accelerate")
    return shutil.which("accelerate") or (str(beside) if os.access(beside, os.X_OK) else None)


def accelerate_command(
    accelerate: str,
    num_processes: int,
    extra: list[str],
    config: Path,
    train: Path,
    out: Path,
    eval_: Path | None = None,
) -> list[str]:
    """``accelerate launch --num_processes N [extra] -m humanllm.train.launch CONFIG --train ...``."""
    cmd = [accelerate, "launch", "--num_processes", str(num_processes), *extra]
    cmd += ["-m", "humanllm.train.launch", str(config), "--train", str(train), "--out", str(out)]
    return cmd + (["--eval", str(eval_)] if eval_ is not None else [])


def fine_tune(
    cfg: Any, train_paths: list[Path], out: Path, eval_paths: list[Path] | None = None
) -> Path:
    """Fine-tune in this process on task files or tasks folders (``<task>/train.jsonl``, and
    ``<task>/test.jsonl`` for ``eval_paths``); returns ``out/final``. The one path training takes:
    the ``train`` stage in process, and each process ``accelerate launch`` starts (:func:`main`)."""
    from humanllm.train.sft import train

    return train(cfg, _expand(train_paths, "train"), out, _expand(eval_paths or [], "test") or None)


def run_training(cfg: Any, tasks: Path, out: Path, eval_: Path | None = None) -> Path:
    """Fine-tune on a tasks folder as ``cfg.launch`` says: in this process, or under
    ``accelerate launch`` (whose processes run :func:`fine_tune` too); returns ``out/final``."""
    if cfg.launch.launcher == "accelerate":
        return train_under_accelerate(cfg, tasks, out, eval_)
    return fine_tune(cfg, [tasks], out, [eval_] if eval_ is not None else None)


def train_under_accelerate(cfg: Any, train: Path, out: Path, eval_: Path | None = None) -> Path:
    """Run :func:`main` under ``accelerate launch`` with ``cfg`` (a :class:`TrainConfig`) and
    wait; returns ``out/final``. Raises :class:`~humanllm.train.sft.TrainError` when it fails."""
    from humanllm.train.sft import FINAL, TrainError

    accelerate = find_accelerate()
    if accelerate is None:
        raise TrainError(
            "train.launch.launcher: accelerate needs the accelerate command: pip install accelerate"
        )
    out.mkdir(parents=True, exist_ok=True)
    config = out / LAUNCH_CONFIG
    config.write_text(yaml.safe_dump({"train": cfg.model_dump(mode="json")}), encoding="utf-8")
    cmd = accelerate_command(
        accelerate, cfg.launch.num_processes, list(cfg.launch.args), config, train, out, eval_
    )
    print("  " + " ".join(cmd), file=sys.stderr, flush=True)
    code = subprocess.run(cmd, check=False).returncode
    if code != 0:
        raise TrainError(f"accelerate launch exited with code {code} (see its output above)")
    final = out / FINAL
    if not (final / "humanllm-train.json").is_file():
        raise TrainError(f"accelerate launch finished but wrote no {final}")
    return final


@app.command()
def main(
    config: Annotated[
        Path,
        typer.Argument(help="YAML: a run config with a train: section, or TrainConfig fields."),
    ],
    train_paths: Annotated[
        list[Path],
        typer.Option(
            "--train",
            help="A ShareGPT .jsonl file, or a tasks folder (<task>/train.jsonl). Repeatable.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder: checkpoint-N/ and final/.")],
    eval_paths: Annotated[
        list[Path] | None,
        typer.Option(
            "--eval", help="Evaluation .jsonl, or a tasks folder (<task>/test.jsonl). Repeatable."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Override a train field: key=value.")
    ] = None,
) -> None:
    """Fine-tune on ShareGPT task files; writes OUT/final (HF checkpoint)."""
    from humanllm.config import ConfigError
    from humanllm.train.data import SFTDataError
    from humanllm.train.sft import TrainError

    try:
        final = fine_tune(load_train_config(config, set_), train_paths, out, eval_paths)
    except (ConfigError, SFTDataError, TrainError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(str(final))


if __name__ == "__main__":
    app()
