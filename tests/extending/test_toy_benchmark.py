"""A benchmark added from outside the package: this module defines a toy benchmark (its config
section, question file, asking, scoring and report table), registers it, and runs the
``evaluate`` stage with scripted models, editing no package file."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from rich.console import Console

from humanllm.config import ConfigError, RunConfig, load_config, validate_config
from humanllm.evaluation import models
from humanllm.evaluation.asking import ask_texts
from humanllm.evaluation.benchmark import (
    BaseBenchmark,
    EvalContext,
    Scored,
    get_benchmark,
    register_benchmark,
    unregister_benchmark,
)
from humanllm.evaluation.letters import LETTERS, parse_letter
from humanllm.evaluation.report import render
from humanllm.evaluation.results import EvalResults
from humanllm.evaluation.stage import run_evaluate
from humanllm.evaluation.tables import Table
from humanllm.llm.base import Backend, ChatRequest, Sampling
from humanllm.llm.scripted import ScriptedBackend
from humanllm.runfolder import RunFolder
from humanllm.stage import StageContext, StageError
from tests.evaluation.fixtures import knowing

NAME = "toy_quiz"


class ToyConfig(BaseModel):
    """``evaluate.toy_quiz``: a JSONL file of questions."""

    model_config = ConfigDict(extra="forbid")
    path: str
    limit: int | None = None


class ToyQuestion(BaseModel):
    id: str
    question: str
    options: list[str]
    answer: int


class ToyScores(BaseModel):
    model: str
    n: int
    accuracy: float
    average: float
    improvement_pct: float | None = None


def read_questions(path: Path) -> list[ToyQuestion]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            out.append(ToyQuestion.model_validate_json(line))
        except ValueError as e:
            raise StageError(f"{path}:{n}: not a toy question ({e})") from None
    return out


class ToyQuiz(BaseBenchmark):
    name = NAME
    config_model = ToyConfig
    report_order = 50.0

    def load(self, ctx: EvalContext) -> list[ToyQuestion]:
        cfg: ToyConfig = self.config(ctx)
        return read_questions(Path(cfg.path))[: cfg.limit]

    async def ask(
        self, ctx: EvalContext, data: list[ToyQuestion], model: str, backend: Backend
    ) -> dict[str, str]:
        def messages(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
            q: ToyQuestion = row["q"]
            shown = "\n".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(q.options))
            return (("user", f"{q.question}\n{shown}\nAnswer with a letter."),)

        replies = await ask_texts(
            [{"id": q.id, "q": q} for q in data],
            render=messages,
            backend=backend,
            cache=ctx.cache,
            stage=f"evaluate.{NAME}",
            prompt_version="toy@1",
            sampling=Sampling(temperature=0.0, max_tokens=8, seed=ctx.ecfg.seed),
            runner_cfg=ctx.runner_cfg,
        )
        return {k: r.text for k, r in replies.items()}

    def score(
        self, ctx: EvalContext, data: list[ToyQuestion], model: str, answers: dict[str, str]
    ) -> Scored:
        picks = {q.id: parse_letter(answers[q.id], len(q.options), q.options) for q in data}
        right = sum(picks[q.id] == q.answer for q in data)
        row = ToyScores(
            model=model, n=len(data), accuracy=right / len(data), average=right / len(data)
        )
        log = [{"id": q.id, "choice": picks[q.id], "raw": answers[q.id]} for q in data]
        return Scored([row], {NAME: log})

    def tables(self, res: EvalResults) -> list[Table]:
        rows = [ToyScores.model_validate(r) for r in res.rows(NAME)]  # dicts once read back
        if not rows:
            return []
        return [
            Table(
                "toy_quiz",
                "Toy quiz accuracy",
                "Toy quiz",
                ["Accuracy"],
                [(r.model, [r.accuracy], r.average, r.improvement_pct) for r in rows],
                4,
                "accuracy",
                notes=[f"Questions: {rows[0].n}.", ""],
            )
        ]


def first_letter(request: ChatRequest) -> str:
    return "A"


def fake_make_backend(cfg: Any) -> Any:
    reply = {"base": first_letter, "tuned": knowing}[cfg.name]
    return ScriptedBackend(reply, model_id=cfg.name)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ToyQuiz]:
    monkeypatch.setattr(models, "make_backend", fake_make_backend)
    bench = ToyQuiz()
    register_benchmark(bench)
    try:
        yield bench
    finally:
        unregister_benchmark(NAME)


def write_quiz(path: Path, answers: Sequence[int]) -> Path:
    rows = [
        {
            "id": f"q{k}",
            "question": f"Question {k}: which one is right?",
            "options": ["RIGHT one" if i == a else f"wrong one {i}" for i in range(3)],
            "answer": a,
        }
        for k, a in enumerate(answers)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def config(tmp: Path, toy_section: Any | None) -> RunConfig:
    evaluate: dict[str, Any] = {
        "models": [
            {"name": "Base", "backend": "base"},
            {"name": "Tuned", "backend": "tuned", "base": "Base"},
        ],
        "distractor_models": ["base"],
        "judge": {"backend": "base", "samples": 0},
    }
    if toy_section is not None:
        evaluate[NAME] = toy_section
    return validate_config(
        {
            "sources": [{"kind": "reddit", "path": str(tmp)}],
            "llm": {"backends": {n: {"kind": "scripted", "name": n} for n in ("base", "tuned")}},
            "evaluate": evaluate,
        }
    )


def evaluate(cfg: RunConfig, root: Path) -> EvalResults:
    run_evaluate(
        StageContext(cfg=cfg, run=RunFolder(root), stage="evaluate", console=Console(quiet=True))
    )
    return EvalResults.read(root / "eval" / "results.json")


def test_toy_benchmark_scores_and_table(toy: ToyQuiz, tmp_path: Path) -> None:
    assert get_benchmark(NAME) is toy
    quiz = write_quiz(tmp_path / "quiz.jsonl", [0, 1, 2, 0])
    root = tmp_path / "run"
    res = evaluate(config(tmp_path, {"path": str(quiz)}), root)

    rows = {r["model"]: r for r in res.rows(NAME)}
    assert rows["Base"]["accuracy"] == 0.5  # always "A": right on q0 and q3
    assert rows["Tuned"]["accuracy"] == 1.0 and rows["Tuned"]["n"] == 4
    assert rows["Tuned"]["improvement_pct"] == pytest.approx(100.0)
    assert rows["Base"]["improvement_pct"] is None

    report = (root / "eval" / "report.md").read_text()
    assert "## Toy quiz accuracy" in report
    assert "| Tuned | **1.0000** | **1.0000** | +100.00 |" in report
    assert "| Base | *0.5000* | *0.5000* | – |" in report
    assert "Questions: 4." in report and "(figures/toy_quiz.png)" in report
    assert (root / "eval" / "figures" / "toy_quiz.png").is_file()
    assert render(res, {}).count("## Toy quiz accuracy") == 1  # the report from results.json alone
    unregister_benchmark(NAME)  # a report written without the module says what it left out
    assert "Not drawn: results.json has rows of toy_quiz" in render(res, {})
    register_benchmark(toy)

    log = (root / "eval" / "predictions" / "Base" / f"{NAME}.jsonl").read_text().splitlines()
    assert [json.loads(line)["choice"] for line in log] == [0, 0, 0, 0]
    # the built-ins still ran around it: their notices are there, the in-domain set is not
    assert any("ToMBench skipped" in n for n in res.notices)


def test_toy_section_is_checked_by_its_model(toy: ToyQuiz, tmp_path: Path) -> None:
    cfg = config(tmp_path, {"path": "q.jsonl", "limit": 1})
    assert isinstance(cfg.evaluate.benchmark_config(NAME), ToyConfig)
    with pytest.raises(ConfigError, match=r"evaluate\.toy_quiz\.limits: Extra inputs"):
        config(tmp_path, {"path": "q.jsonl", "limits": 1})


def test_unregistered_section_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"evaluate\.toy_quiz: not a setting; no benchmark"):
        config(tmp_path, {"path": "q.jsonl"})


def test_unconfigured_toy_does_not_run(toy: ToyQuiz, tmp_path: Path) -> None:
    evaluate(config(tmp_path, None), tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "eval" / "results.json").read_text())
    assert (
        NAME not in saved
        and "toy_quiz" not in (tmp_path / "run" / "eval" / "report.md").read_text()
    )
    assert not (tmp_path / "run" / "eval" / "predictions" / "Base" / f"{NAME}.jsonl").exists()


def test_toy_path_is_relative_to_the_config_file(toy: ToyQuiz, tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    cfg_file = tmp_path / "conf" / "run.yaml"
    cfg_file.write_text(
        f"sources: [{{kind: reddit, path: {tmp_path}}}]\n"
        f"evaluate:\n  {NAME}: {{path: data/quiz.jsonl}}\n",
        encoding="utf-8",
    )
    section = load_config(cfg_file).evaluate.benchmark_config(NAME)
    assert section.path == str(tmp_path / "conf" / "data" / "quiz.jsonl")


def test_report_only_draws_a_plugin_benchmark_named_in_the_run_config(
    toy: ToyQuiz, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from humanllm.cli import app

    quiz = write_quiz(tmp_path / "quiz.jsonl", [0, 1])
    root = tmp_path / "run"
    evaluate(config(tmp_path, {"path": str(quiz)}), root)
    unregister_benchmark(NAME)  # a new process: only the run's plugins register it again
    plugin = tmp_path / "plugins" / "toy_quiz_plugin_for_report.py"
    plugin.parent.mkdir()
    plugin.write_text(
        "from humanllm.evaluation.benchmark import register_benchmark\n"
        "from tests.extending.test_toy_benchmark import ToyQuiz\n"
        "register_benchmark(ToyQuiz())\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(plugin.parent))
    (root / "config.yaml").write_text(f"plugins: [{plugin.stem}]\n", encoding="utf-8")
    (root / "eval" / "report.md").unlink()
    out = CliRunner().invoke(
        app, ["evaluate", "unused.yaml", "--run-dir", str(root), "--report-only"]
    )
    assert out.exit_code == 0, out.output
    assert "Toy quiz accuracy" in (root / "eval" / "report.md").read_text(encoding="utf-8")
