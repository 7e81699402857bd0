"""``humanllm plan CONFIG``: the command (registered in :mod:`humanllm.cli`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from humanllm.config import ConfigError, load_config
from humanllm.llm.base import LLMError, OutageError
from humanllm.sources import SourceError
from humanllm.stage import StageError

err = Console(stderr=True)


def plan_cmd(
    config: Annotated[
        Path, typer.Argument(help="Run configuration (YAML), e.g. configs/paper.yaml.")
    ],
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample",
            min=1,
            help="Read only the first N records of each source and scale by the source's total "
            "rows (Parquet metadata, line counts); default: read every source whole.",
        ),
    ] = None,
    pilot: Annotated[
        int,
        typer.Option(
            "--pilot",
            min=0,
            help="Run the curation stages on about K records through the configured backends to "
            "measure completion tokens, keep shares and re-asks; 0: no model is asked (max_tokens "
            "bounds, the paper's QC shares).",
        ),
    ] = 0,
    train_tokens_per_s: Annotated[
        float | None,
        typer.Option(
            "--train-tokens-per-s",
            min=0.001,
            help="Training throughput of the whole job (tokens/s over all GPUs), for training hours.",
        ),
    ] = None,
    train_gpus: Annotated[
        int | None,
        typer.Option(
            "--train-gpus",
            min=1,
            help="GPUs training runs on (default: train.launch.num_processes).",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a config value: dotted.key=value (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Project a run before spending on it: per stage requests, prompt and completion tokens,
    hours, GPU-hours and cost, and the Table A1 counts it would end with."""
    from humanllm.plan import make_plan
    from humanllm.plan.output import as_json as plan_json
    from humanllm.plan.output import print_plan

    try:
        cfg = load_config(config, set_)
        plan, counts = make_plan(
            cfg,
            sample=sample,
            pilot=pilot,
            train_tokens_per_s=train_tokens_per_s,
            train_gpus=train_gpus,
            console=err,
        )
    except (OutageError, LLMError) as e:  # only the pilot asks a model
        message = f"the pilot (--pilot {pilot}) could not get its answers: {e}"
        err.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except (ConfigError, StageError, SourceError) as e:
        err.print(f"[bold red]error:[/bold red] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        meta = {
            "config": str(config),
            "sample": sample,
            "pilot_k": pilot,
            "tokenizers": counts.tokenizers,
        }
        sys.stdout.write(json.dumps(plan_json(plan, meta), indent=2) + "\n")
    else:
        print_plan(plan, Console(), counts.tokenizers)
