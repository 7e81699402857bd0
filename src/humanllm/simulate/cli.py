"""``humanllm simulate <application>`` and ``humanllm serve``.

Inputs, each overriding the one before: a genome user (``--run-dir DIR --user ID [--source S]``),
a JSON/YAML file (``--input FILE``, the fields of the application's input model), then flags.
Model: see :mod:`humanllm.simulate.model` (default: the embedded GGUF through llama.cpp).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from humanllm.simulate.model import ModelChoiceError, choose_backend, describe
from humanllm.simulate.people import GenomeError, GenomeUsers, Person, UnknownUser, inputs_for
from humanllm.simulate.schemas import INPUTS, MAX_N, AppInput, Result, SelectResult

app = typer.Typer(
    name="simulate",
    help="Simulate a person with the trained tasks' prompts: profile, explain, write, comment, select, scenario.",
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
NOpt = Annotated[
    int | None, typer.Option("--n", "-n", min=1, max=MAX_N, help="Answers to sample (default 1).")
]
TemperatureOpt = Annotated[
    float | None,
    typer.Option(
        "--temperature", "-t", min=0.0, max=2.0, help="Sampling temperature (default 0.7)."
    ),
]
MaxTokensOpt = Annotated[
    int | None, typer.Option("--max-tokens", min=1, help="Reply budget (default: per application).")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", min=0, help="Seed of the first answer.")]
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
PersonaOpt = Annotated[str | None, typer.Option("--persona", help="Brief persona of the person.")]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="Detailed profile of the person.")
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


def _split(value: str, sep: str = "|") -> tuple[str, str]:
    head, found, tail = value.partition(sep)
    return (head.strip(), tail.strip()) if found else ("", value.strip())


def _purchase(value: str) -> dict[str, Any]:
    """'TITLE | STARS' -> {item, rating}; anything else is a title."""
    title, sep, stars = value.rpartition("|")
    if sep and title.strip():
        try:
            return {"item": title.strip(), "rating": float(stars)}
        except ValueError:
            pass
    return {"item": value.strip()}


def _execute(application: str, flags: dict[str, Any], opts: dict[str, Any]) -> None:
    """Gather the inputs, pick the model, answer, print."""
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
    fields.update({k: v for k, v in flags.items() if v not in (None, [], ())})
    fields.update({k: v for k, v in opts.items() if v is not None})
    try:
        inp: AppInput = INPUTS[application].model_validate(fields)  # type: ignore[assignment]
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


# --- the six applications ----------------------------------------------------------------------


@app.command("profile")
def profile_cmd(
    persona: PersonaOpt = None,
    input_file: InputOpt = None,
    run_dir: RunDirOpt = None,
    user: UserOpt = None,
    source: SourceOpt = None,
    n: NOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
    model_path: ModelPathOpt = None,
    openai_url: OpenAIUrlOpt = None,
    openai_model: OpenAIModelOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Profile generation: a brief persona -> a detailed profile."""
    opts = dict(locals())
    flags = {"persona": opts.pop("persona")}
    _execute("profile", flags, opts)


@app.command("explain")
def explain_cmd(
    scenario: Annotated[str | None, typer.Option("--scenario", help="The situation.")] = None,
    question: Annotated[str | None, typer.Option("--question", help="What to explain.")] = None,
    persona: PersonaOpt = None,
    profile: ProfileOpt = None,
    input_file: InputOpt = None,
    run_dir: RunDirOpt = None,
    user: UserOpt = None,
    source: SourceOpt = None,
    n: NOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
    model_path: ModelPathOpt = None,
    openai_url: OpenAIUrlOpt = None,
    openai_model: OpenAIModelOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Human explainer: persona or profile + scenario + question -> the person's action, thought or reason."""
    opts = dict(locals())
    flags = {k: opts.pop(k) for k in ("scenario", "question", "persona", "profile")}
    _execute("explain", flags, opts)


@app.command("write")
def write_cmd(
    topic: Annotated[str | None, typer.Option("--topic", help="What to write about.")] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help='"Reddit post", "tweet", "blog post" ...')
    ] = None,
    sample: Annotated[
        list[str] | None, typer.Option("--sample", help="An earlier text (repeatable).")
    ] = None,
    style: Annotated[str | None, typer.Option("--style", help="How the person writes.")] = None,
    input_file: InputOpt = None,
    run_dir: RunDirOpt = None,
    user: UserOpt = None,
    source: SourceOpt = None,
    n: NOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
    model_path: ModelPathOpt = None,
    openai_url: OpenAIUrlOpt = None,
    openai_model: OpenAIModelOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Personalized writing: earlier texts or a style description + a topic -> a text in the person's voice."""
    opts = dict(locals())
    flags = {k: opts.pop(k) for k in ("topic", "kind", "style")}
    flags["samples"] = opts.pop("sample")
    _execute("write", flags, opts)


@app.command("comment")
def comment_cmd(
    post: Annotated[str | None, typer.Option("--post", help="The new post (or item).")] = None,
    history: Annotated[
        list[str] | None,
        typer.Option(
            "--history", help="An earlier comment, 'TEXT' or 'ON WHAT | TEXT' (repeatable)."
        ),
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="comment (default) or review (Amazon).")
    ] = None,
    input_file: InputOpt = None,
    run_dir: RunDirOpt = None,
    user: UserOpt = None,
    source: SourceOpt = None,
    n: NOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
    model_path: ModelPathOpt = None,
    openai_url: OpenAIUrlOpt = None,
    openai_model: OpenAIModelOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Personalized commenting: earlier comments + a new post -> the person's comment."""
    opts = dict(locals())
    flags: dict[str, Any] = {k: opts.pop(k) for k in ("post", "kind")}
    earlier = [_split(h) for h in opts.pop("history") or []]
    flags["history"] = [{"item": item, "text": text} for item, text in earlier]
    _execute("comment", flags, opts)


@app.command("select")
def select_cmd(
    candidate: Annotated[
        list[str] | None,
        typer.Option("--candidate", "-c", help="A candidate item title (repeatable)."),
    ] = None,
    bought: Annotated[
        list[str] | None,
        typer.Option(
            "--bought", help="An item bought before, 'TITLE' or 'TITLE | STARS' (repeatable)."
        ),
    ] = None,
    persona: PersonaOpt = None,
    profile: ProfileOpt = None,
    input_file: InputOpt = None,
    run_dir: RunDirOpt = None,
    user: UserOpt = None,
    source: SourceOpt = None,
    n: NOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
    model_path: ModelPathOpt = None,
    openai_url: OpenAIUrlOpt = None,
    openai_model: OpenAIModelOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Item selection: history + persona or profile + candidates -> the chosen item (always a candidate)."""
    opts = dict(locals())
    flags: dict[str, Any] = {k: opts.pop(k) for k in ("persona", "profile")}
    flags["candidates"] = opts.pop("candidate")
    flags["history"] = [_purchase(b) for b in opts.pop("bought") or []]
    _execute("select", flags, opts)


@app.command("scenario")
def scenario_cmd(
    character: Annotated[
        list[str] | None,
        typer.Option("--character", help="'NAME: DESCRIPTION' or 'NAME' (repeatable)."),
    ] = None,
    time: Annotated[str | None, typer.Option("--time", help="When it happens.")] = None,
    place: Annotated[str | None, typer.Option("--place", help="Where it happens.")] = None,
    input_file: InputOpt = None,
    run_dir: RunDirOpt = None,
    user: UserOpt = None,
    source: SourceOpt = None,
    n: NOpt = None,
    temperature: TemperatureOpt = None,
    max_tokens: MaxTokensOpt = None,
    seed: SeedOpt = None,
    as_json: JsonOpt = False,
    model_path: ModelPathOpt = None,
    openai_url: OpenAIUrlOpt = None,
    openai_model: OpenAIModelOpt = None,
    backend: BackendOpt = None,
) -> None:
    """Scenario generation: characters + time and place -> the plots."""
    opts = dict(locals())
    flags: dict[str, Any] = {k: opts.pop(k) for k in ("time", "place")}
    flags["characters"] = opts.pop("character")
    _execute("scenario", flags, opts)


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
