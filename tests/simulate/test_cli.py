"""`humanllm simulate <application>` and `humanllm serve` with the scripted model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from humanllm.cli import app
from humanllm.llm.scripted import ScriptedBackend
from humanllm.simulate.schemas import APPLICATIONS
from humanllm.tasks import prompts as P
from tests.simulate.conftest import AMAZON_USER, REDDIT_USER, scripted_reply

runner = CliRunner()


class Backends:
    """Every backend the CLI builds is a scripted one; the configs it chose are recorded."""

    def __init__(self) -> None:
        self.configs: list[Any] = []
        self.built: list[ScriptedBackend] = []

    def make(self, cfg: Any) -> ScriptedBackend:
        self.configs.append(cfg)
        self.built.append(ScriptedBackend(scripted_reply, model_id="scripted-cli"))
        return self.built[-1]

    @property
    def calls(self) -> int:
        return sum(b.calls for b in self.built)


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Backends:
    backends = Backends()
    monkeypatch.setattr("humanllm.llm.backends.make_backend", backends.make)
    return backends


def run_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["simulate", *args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_every_application_is_a_command() -> None:
    registered = {c.name for c in app.registered_commands}
    assert "serve" in registered
    groups = {g.name: g for g in app.registered_groups}
    assert {c.name for c in groups["simulate"].typer_instance.registered_commands} == set(
        APPLICATIONS
    )
    for name in APPLICATIONS:
        result = runner.invoke(app, ["simulate", name, "--help"])
        assert result.exit_code == 0 and "--json" in result.output and "--user" in result.output


def test_each_application_from_flags(backend: Backends) -> None:
    out = run_json("profile", "--persona", "A nurse.", "--n", "2", "--seed", "3")
    assert [s["seed"] for s in out["samples"]] == [3, 4] and out["model"] == "scripted-cli"
    assert out["input"]["temperature"] == 0.7 and out["user"] is None
    out = run_json("explain", "--scenario", "S", "--question", "Q?", "--persona", "P")
    assert out["prompt"]["human"] == P.social_qa("S", "Q?", persona="P").human
    out = run_json("write", "--topic", "T", "--kind", "tweet", "--sample", "one", "--sample", "two")
    assert out["prompt"]["human"] == P.writing_imitation("T", "tweet", history=["one", "two"]).human
    out = run_json(
        "comment", "--post", "New post", "--history", "Old post | nice one", "--history", "plain"
    )
    expected = P.personalized_commenting(
        "New post", [P.Review("Old post", "nice one"), P.Review("a post", "plain")], kind="comment"
    )
    assert out["prompt"]["human"] == expected.human
    out = run_json(
        "select",
        "-c",
        "Tea",
        "-c",
        "Lamp",
        "--bought",
        "Mug | 4",
        "--bought",
        "A | B",
        "--profile",
        "Pr",
    )
    assert out["samples"][0]["item"] == "Lamp" and out["candidates"] == ["Tea", "Lamp"]
    assert out["input"]["history"] == [
        {"item": "Mug", "text": "", "rating": 4.0},
        {"item": "A | B", "text": "", "rating": None},
    ]
    out = run_json("scenario", "--character", "Ann: a nurse", "--time", "noon", "--place", "Leeds")
    assert (
        out["prompt"]["human"] == P.scenario_generation([("Ann", "a nurse")], "noon", "Leeds").human
    )


def test_plain_output_shows_the_answers(backend: Backends) -> None:
    result = runner.invoke(app, ["simulate", "select", "-c", "Tea", "-c", "Lamp", "--persona", "p"])
    assert result.exit_code == 0, result.output
    assert "→ Lamp" in result.stdout and "select 1/1" in result.stdout


def test_input_files_json_and_yaml(backend: Backends, tmp_path: Path) -> None:
    spec = {"scenario": "S", "question": "Q", "persona": "from file", "n": 2}
    (tmp_path / "in.json").write_text(json.dumps(spec))
    out = run_json("explain", "--input", str(tmp_path / "in.json"))
    assert len(out["samples"]) == 2 and out["input"]["persona"] == "from file"
    (tmp_path / "in.yaml").write_text("candidates: [Tea, Lamp, Pen]\npersona: p\nhistory: [Mug]\n")
    out = run_json("select", "-i", str(tmp_path / "in.yaml"), "--persona", "flag wins")
    assert out["input"]["persona"] == "flag wins" and out["input"]["history"][0]["item"] == "Mug"
    (tmp_path / "bad.yaml").write_text("- a list\n")
    result = runner.invoke(app, ["simulate", "profile", "-i", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2 and "must be a mapping" in result.output


def test_genome_user_inputs(backend: Backends, genome_run: Path) -> None:
    out = run_json(
        "select", "--run-dir", str(genome_run), "--user", AMAZON_USER, "-c", "Tea", "-c", "Pan"
    )
    assert out["user"] == {"source": "amazon", "user_id": AMAZON_USER}
    assert [h["item"] for h in out["input"]["history"]] == ["Rice cooker", "Night lamp", "Yoga mat"]
    assert "Persona of the person:\nA nurse" in out["prompt"]["human"]
    assert "- Yoga mat (rated 2/5)" in out["prompt"]["human"]
    out = run_json("write", "-r", str(genome_run), "-u", REDDIT_USER, "--topic", "derby day")
    assert "Write a new Reddit post by this person" in out["prompt"]["human"]
    assert "Lowercase, lots of slang." in out["prompt"]["human"]
    out = run_json("profile", "-r", str(genome_run), "-u", "twin", "--source", "forum")
    assert out["input"]["persona"] == "Twin in forum."
    result = runner.invoke(app, ["simulate", "profile", "-r", str(genome_run), "-u", "nobody"])
    assert result.exit_code == 2 and "no user 'nobody'" in result.output


def test_clear_errors(backend: Backends, tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "profile", "--user", "x"])
    assert result.exit_code == 2 and "--user needs --run-dir" in result.output
    (tmp_path / "run").mkdir()
    result = runner.invoke(app, ["simulate", "profile", "-r", str(tmp_path / "run"), "-u", "x"])
    assert result.exit_code == 2 and "has no genome" in result.output
    result = runner.invoke(app, ["simulate", "explain", "--scenario", "S"])
    assert result.exit_code == 2 and "question: Field required" in result.output
    result = runner.invoke(app, ["simulate", "explain", "--scenario", "S", "--question", "Q"])
    assert result.exit_code == 2 and "persona or a profile" in result.output
    result = runner.invoke(
        app, ["simulate", "profile", "--persona", "p", "--model-path", "nope.gguf"]
    )
    assert result.exit_code == 2 and "not found" in result.output
    assert backend.calls == 0


def test_select_without_a_candidate_in_the_reply_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "humanllm.llm.backends.make_backend", lambda cfg: ScriptedBackend(lambda r: "no idea")
    )
    result = runner.invoke(app, ["simulate", "select", "-c", "Tea", "-c", "Lamp", "--persona", "p"])
    assert result.exit_code == 1 and "named none of the 2 candidates" in result.output


def test_serve_refuses_a_public_address_without_token(
    monkeypatch: pytest.MonkeyPatch, backend: Backends
) -> None:
    monkeypatch.delenv("HUMANLLM_TOKEN", raising=False)
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--token" in result.output and backend.calls == 0
    assert backend.configs == []  # refused before choosing a model
    result = runner.invoke(app, ["serve", "--run-dir", "/nonexistent/run"])
    assert result.exit_code == 2 and "no such run folder" in result.output


def test_model_output_is_printed_as_text_not_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = "[/bold] closing tag first [red]not red[/red]"
    monkeypatch.setattr(
        "humanllm.llm.backends.make_backend", lambda cfg: ScriptedBackend(lambda r: reply)
    )
    result = runner.invoke(app, ["simulate", "profile", "--persona", "p"])
    assert result.exit_code == 0, result.output
    assert "[/bold] closing tag first [red]not red[/red]" in result.stdout
