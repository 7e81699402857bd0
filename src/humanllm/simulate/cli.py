"""``humanllm simulate <application>`` and ``humanllm serve``.

One command per application (:func:`commands`), made from its options model
(:mod:`humanllm.simulate.options`): a new task's application needs no edit here.

Inputs, each overriding the one before: a genome user (``--run-dir DIR --user ID [--source S]``),
a JSON/YAML file (``--input FILE``, the fields of the application's input model), then flags.
Model: see :mod:`humanllm.simulate.model` (default: the embedded GGUF through llama.cpp).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from humanllm.simulate.apps import SimApp
from humanllm.simulate.model import ModelChoiceError, choose_backend, describe
from humanllm.simulate.options import command, field_options, field_values
from humanllm.simulate.people import GenomeError, GenomeUsers, Person, UnknownUser, inputs_for
from humanllm.simulate.schemas import (
    MAX_N,
    AppInput,
    Result,
    SampleOptions,
    SelectResult,
    apps,
    get_app,
)

app = typer.Typer(
    name="simulate",
    help="Simulate a person with the trained tasks' prompts: "
    + ", ".join(a.name for a in apps())
    + ".",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

# --- options every application takes -----------------------------------------------------------

InputOpt = Annotated[
    Path | None,
    typer.Option("--input", "-i", help="JSON or YAML file with the application's input fields."),
]
RunDirOpt = Annotated[
    Path | None,
    typer.Option("--run-dir", "-r", help="Run folder: genome users (--user) and its models."),
]
UserOpt = Annotated[
    str | None, typer.Option("--user", "-u", help="Genome user id: persona, profile, history.")
]
SourceOpt = Annotated[
    str | None, typer.Option("--source", help="Source of --user (ids can repeat across sources).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ModelPathOpt = Annotated[
    Path | None,
    typer.Option(
        "--model-path", "-m", help="HF checkpoint folder (transformers) or .gguf file (llama.cpp)."
    ),
]
OpenAIUrlOpt = Annotated[
    str | None, typer.Option("--openai-url", help="OpenAI-compatible server URL incl. /v1.")
]
OpenAIModelOpt = Annotated[
    str | None, typer.Option("--openai-model", help="Model name on that server.")
]
BackendOpt = Annotated[
    str | None, typer.Option("--backend", help="A backend of the run's config.yaml (llm.backends).")
]


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _read_input(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"--input {path}: cannot read it ({e.strerror or e})") from e
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"--input {path}: not valid JSON/YAML ({e})") from e
    if not isinstance(data, dict):
        raise ValueError(f"--input {path}: the top level must be a mapping of input fields")
    return data


def _execute(application: str, flags: dict[str, Any], opts: dict[str, Any]) -> None:
    """Gather the inputs, pick the model, answer, print. ``flags``: the input fields the options
    set; ``opts``: the options every application takes."""
    fields: dict[str, Any] = {}
    person: Person | None = None
    run_dir, as_json = opts.pop("run_dir"), opts.pop("as_json")
    user, source, input_file = opts.pop("user"), opts.pop("source"), opts.pop("input_file")
    model = {k: opts.pop(k) for k in ("model_path", "openai_url", "openai_model", "backend")}
    try:
        if user is not None:
            if run_dir is None:
                raise ValueError("--user needs --run-dir (the run whose genome holds the user)")
            genome = GenomeUsers(run_dir)
            person = genome.person(user, source)
            fields.update(inputs_for(person, genome.history)[application])
        if input_file is not None:
            fields.update(_read_input(input_file))
    except UnknownUser as e:
        _fail(f"{run_dir}: {e}")
    except ValueError as e:  # GenomeError is a ValueError
        _fail(str(e))
    fields.update(flags)
    try:
        inp: AppInput = get_app(application).input.model_validate(fields)
    except ValidationError as e:
        lines = [
            f"  {'.'.join(str(x) for x in x['loc']) or 'input'}: {x['msg']}" for x in e.errors()
        ]
        _fail(f"invalid input for {application}:\n" + "\n".join(lines))
    result = _answer(inp, run_dir, model)
    if as_json:
        out = result.model_dump(mode="json")
        out["input"] = inp.model_dump(mode="json")
        out["user"] = (
            None if person is None else {"source": person.source, "user_id": person.user_id}
        )
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        _render(result, person)


def _answer(inp: AppInput, run_dir: Path | None, model: dict[str, Any]) -> Result | SelectResult:
    from humanllm.llm.backends import make_backend
    from humanllm.llm.base import LLMError
    from humanllm.llm.embedded import EmbeddedModelError
    from humanllm.simulate.apps import SimulationError
    from humanllm.simulate.simulator import Simulator

    try:
        cfg = choose_backend(run_dir=run_dir, n_parallel=min(inp.n, _cores(), 4), **model)
        err.print(Text(f"model: {describe(cfg)}", style="dim"))
        backend = make_backend(cfg)
    except (ModelChoiceError, LLMError, EmbeddedModelError) as e:
        _fail(str(e))
    with Simulator(backend) as sim:
        try:
            return sim.run(inp)
        except (SimulationError, LLMError) as e:
            _fail(str(e), code=1)


def _cores() -> int:
    from humanllm.llm.llamacpp import available_cores

    return available_cores()


def _render(result: Result | SelectResult, person: Person | None) -> None:
    out = Console()
    if person is not None:
        about = person.persona or person.profile
        title = escape(f"{person.source}/{person.user_id}")
        out.print(Panel(Text(about), title=title, border_style="dim"))
    n = len(result.samples)
    for i, s in enumerate(result.samples, start=1):
        title = f"{result.application} {i}/{n} · seed {s.seed}"
        if s.finish_reason == "length":
            title += " · cut at max_tokens"
        body = Text(s.text)  # model output is plain text, never markup
        if isinstance(result, SelectResult):
            chosen = result.samples[i - 1]
            body = Text.assemble(f"→ {chosen.item}\n", (f"reply: {s.text}", "dim"))
            if chosen.attempts > 1:
                title += f" · {chosen.attempts} replies"
        out.print(Panel(body, title=escape(title), title_align="left", border_style="cyan"))
    out.print(Text(f"{result.model} · {result.elapsed_s:.2f} s", style="dim"))


# --- the applications: one command per task's application, made from its options model --------

#: The options every application command takes besides its input fields.
_RUN_OPTIONS: dict[str, Any] = {
    "input_file": InputOpt,
    "run_dir": RunDirOpt,
    "user": UserOpt,
    "source": SourceOpt,
}
_MODEL_OPTIONS: dict[str, Any] = {
    "as_json": JsonOpt,
    "model_path": ModelPathOpt,
    "openai_url": OpenAIUrlOpt,
    "openai_model": OpenAIModelOpt,
    "backend": BackendOpt,
}


def _params(options: dict[str, Any]) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter(name, kw, default=False if name == "as_json" else None, annotation=a)
        for name, a in options.items()
    ]


def application_command(sim: SimApp) -> Callable[..., None]:
    """The ``humanllm simulate <name>`` command of one application: its input fields (those of
    :class:`SampleOptions` after the run options), then the output and model options."""
    shared = tuple(SampleOptions.model_fields)
    own = field_options(sim.input, skip=shared)
    sampling = [o for o in field_options(sim.input) if o.field in shared]

    def run(**values: Any) -> None:
        opts = {k: values.pop(k) for k in (*_RUN_OPTIONS, *_MODEL_OPTIONS)}
        _execute(sim.name, field_values([*own, *sampling], values), opts)

    params = [
        *(o.param for o in own),
        *_params(_RUN_OPTIONS),
        *(o.param for o in sampling),
        *_params(_MODEL_OPTIONS),
    ]
    return command(run, params, sim.name, sim.help)


def commands() -> list[tuple[str, Callable[..., None], str]]:
    """``(name, function, help)`` of every application's command, in the applications' order."""
    return [(a.name, application_command(a), a.help) for a in apps()]


for _name, _fn, _help in commands():
    app.command(_name, help=_help)(_fn)


# --- serve -----------------------------------------------------------------------------------


def serve_cmd(
    run_dir: RunDirOpt = None,
    model_path: ModelPathOpt = None,
    openai_url: OpenAIUrlOpt = None,
    openai_model: OpenAIModelOpt = None,
    backend: BackendOpt = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; any but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Bearer token for /api/ (default: $HUMANLLM_TOKEN)."),
    ] = None,
    max_n: Annotated[
        int, typer.Option("--max-n", min=1, max=MAX_N, help="Most samples per request.")
    ] = 8,
    max_body_kb: Annotated[
        int, typer.Option("--max-body-kb", min=1, help="Largest request body (KiB).")
    ] = 256,
    n_parallel: Annotated[
        int | None,
        typer.Option(
            "--n-parallel",
            min=1,
            help="llama.cpp: requests decoded at once (default: cores, at most 4).",
        ),
    ] = None,
) -> None:
    """Serve the simulator: a web page at /, one POST endpoint per application under /api/, OpenAPI at /openapi.json."""
    from humanllm.llm.backends import make_backend
    from humanllm.llm.base import LLMError
    from humanllm.llm.embedded import EmbeddedModelError
    from humanllm.simulate.service import ServiceConfigError, ServiceSettings, serve
    from humanllm.simulate.simulator import Simulator

    try:
        settings = ServiceSettings(
            host=host,
            token=token or os.environ.get("HUMANLLM_TOKEN") or None,
            max_n=max_n,
            max_body_bytes=max_body_kb * 1024,
        )
        genome = GenomeUsers(run_dir) if run_dir is not None else None
        cfg = choose_backend(
            model_path=model_path,
            openai_url=openai_url,
            openai_model=openai_model,
            run_dir=run_dir,
            backend=backend,
            n_parallel=n_parallel,
        )
        err.print(Text(f"loading {describe(cfg)}", style="dim"))
        serve(
            lambda: Simulator(make_backend(cfg)),
            settings=settings,
            port=port,
            genome=genome,
            log=lambda line: err.print(line, markup=False, highlight=False, soft_wrap=True),
        )
    except (ServiceConfigError, GenomeError, ModelChoiceError, LLMError, EmbeddedModelError) as e:
        _fail(str(e))
