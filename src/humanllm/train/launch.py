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

CONFIG is a run config (its ``train:`` section is used) or a mapping of
:class:`~humanllm.train.config.TrainConfig` fields; ``--set key=value`` overrides a field.
"""

from __future__ import annotations

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
    from humanllm.train.sft import TrainError, train

    try:
        cfg = load_train_config(config, set_)
        final = train(
            cfg,
            _expand(train_paths, "train"),
            out,
            _expand(eval_paths or [], "test") or None,
        )
    except (ConfigError, SFTDataError, TrainError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(str(final))


if __name__ == "__main__":
    app()
