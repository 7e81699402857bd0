"""The evaluate stage end to end with scripted models: a base that cannot answer, a tuned model
that knows the real options (and scores log-likelihoods), a distractor writer and a judge."""

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from humanllm.config import RunConfig, validate_config
from humanllm.evaluation import models
from humanllm.evaluation.results import EvalResults
from humanllm.evaluation.stage import run_evaluate
from humanllm.executor import STAGES, stage_dir
from humanllm.llm.base import ChatRequest, Scorer
from humanllm.llm.scripted import ScriptedBackend
from humanllm.runfolder import RunFolder
from humanllm.stage import StageContext, StageError
from tests.evaluation.fixtures import (
    TRUE_TITLES,
    knowing,
    write_genome,
    write_motivebench,
    write_tasks,
)
from tests.evaluation.test_tombench import TOMBENCH


class KnowingScorer(ScriptedBackend):
    """Scripted chat plus log-likelihoods that prefer the real option."""

    scored = 0

    def loglikelihoods(self, messages: list[tuple[str, str]], options: list[str]) -> list[float]:
        KnowingScorer.scored += 1
        real = [("REAL" in o or o.split(". ", 1)[-1] in TRUE_TITLES) for o in options]
        return [
            -1.0 * len(o.encode()) * (0.1 if r else 2.0) for o, r in zip(options, real, strict=True)
        ]


def judge_reply(request: ChatRequest) -> str:
    system, user = request.messages[0][1], request.messages[-1][1]
    score = 9 if "tuned answer" in user else 3
    keys = [
        k
        for k in (
            "faithfulness",
            "realism",
            "coverage",
            "contextual_relevance",
            "logical_consistency",
            "alignment",
            "style_match",
            "content_relevance",
            "content_similarity",
        )
        if f'"{k}"' in system
    ]
    return json.dumps({k: {"rationale": "fine", "score": score} for k in keys})


CALLS: list[str] = []


def fake_make_backend(cfg: Any) -> Any:
    name = cfg.name
    replies = {
        "base": lambda r: "I would rather not say.",
        "tuned": knowing,
        "writer": lambda r: f"A made-up answer, seed {r.sampling.seed}.",
        "judge": judge_reply,
    }[name]
    cls = KnowingScorer if name == "tuned" else ScriptedBackend
    backend = cls(lambda r: CALLS.append(name) or replies(r), model_id=name)
    return backend


def config(tmp: Path, tombench: bool) -> RunConfig:
    write_motivebench(tmp / "mb")
    evaluate: dict[str, Any] = {
        "models": [
            {"name": "Base", "backend": "base"},
            {"name": "Tuned", "backend": "tuned", "base": "Base"},
        ],
        "distractor_models": ["writer"],
        "in_domain": {"per_task": 2},
        "motivebench": {"path": str(tmp / "mb"), "limit": 1},
        "judge": {"backend": "judge", "samples": 2},
    }
    if tombench:
        evaluate["tombench"] = {"path": str(TOMBENCH), "limit": 1, "tries": 3}
    return validate_config(
        {
            "sources": [{"kind": "reddit", "path": str(tmp)}],
            "llm": {
                "backends": {
                    n: {"kind": "scripted", "name": n} for n in ("base", "tuned", "writer", "judge")
                }
            },
            "evaluate": evaluate,
        }
    )


@pytest.fixture
def run_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(models, "make_backend", fake_make_backend)
    root = tmp_path / "run"
    write_tasks(root)
    write_genome(root)
    return root


def evaluate(cfg: RunConfig, root: Path) -> EvalResults:
    run_evaluate(
        StageContext(cfg=cfg, run=RunFolder(root), stage="evaluate", console=Console(quiet=True))
    )
    return EvalResults.read(root / "eval" / "results.json")


def test_stage_end_to_end(run_root: Path, tmp_path: Path) -> None:
    cfg = config(tmp_path, tombench=TOMBENCH.is_dir())
    CALLS.clear()
    res = evaluate(cfg, run_root)
    by = {(r.model, r.scoring): r for r in res.in_domain}
    tuned, base = by[("Tuned", "letter")], by[("Base", "letter")]
    assert set(tuned.tasks) == {
        "item_selection",
        "profile_generation",
        "scenario_generation",
        "social_qa",
        "writing_imitation",
    }
    assert all(t.accuracy_pct == 100.0 and t.n == 2 for t in tuned.tasks.values())
    assert all(t.accuracy_pct == 0.0 and t.unparseable == 2 for t in base.tasks.values())
    assert tuned.tasks["item_selection"].n_options == 20 and tuned.tasks["social_qa"].n_options == 8
    assert by[("Tuned", "loglik")].average_pct == 100.0
    assert ("Base", "loglik") not in by and any("Base: loglik" in n for n in res.notices)
    assert tuned.improvement_pct is None  # the base scored 0
    mb = {r.model: r for r in res.motivebench}
    assert mb["Tuned"].average == 1.0 and mb["Base"].average == 0.0
    assert mb["Tuned"].subsets == {"Amazon": 1.0, "Blogger": 1.0, "Persona": 1.0}
    apps = {(r.application, r.model): r for r in res.applications}
    assert apps[("human_explainer", "Tuned")].metrics == {
        "contextual_relevance": 9.0,
        "logical_consistency": 9.0,
        "alignment": 9.0,
    }
    assert apps[("profile_generation", "Base")].average == 3.0
    assert apps[("profile_generation", "Tuned")].improvement_pct == pytest.approx(200.0)
    if TOMBENCH.is_dir():
        tb = {r.model: r for r in res.tombench}
        assert set(tb["Tuned"].categories) == {
            "Emotion",
            "Desire",
            "Intention",
            "Knowledge",
            "Belief",
            "Non-Literal Communication",
        }
        assert tb["Base"].unparseable_replies == 6 * 3 and tb["Base"].average == 0.0
    else:
        assert any("ToMBench skipped" in n for n in res.notices)
    out = run_root / "eval"
    assert {p.name for p in (out / "mc").glob("*.jsonl")} == {f"{t}.jsonl" for t in tuned.tasks}
    assert (out / "report.md").is_file() and len(list((out / "figures").glob("*.png"))) >= 6
    preds = (out / "predictions" / "Base" / "in_domain_letter.jsonl").read_text().splitlines()
    assert len(preds) == 10 and json.loads(preds[0])["raw"] == "I would rather not say."
    assert (out / "predictions" / "Tuned" / "applications.jsonl").is_file()
    assert res.in_domain_set is not None and res.in_domain_set.distractor_writers

    # a re-run asks no model anything: requests and log-likelihoods come from the caches
    calls, scored = len(CALLS), KnowingScorer.scored
    again = evaluate(cfg, run_root)
    assert len(CALLS) == calls and KnowingScorer.scored == scored
    assert again.model_dump(exclude={"created_at"}) == res.model_dump(exclude={"created_at"})


def test_stage_is_wired() -> None:
    stage = STAGES["evaluate"]
    assert stage_dir("evaluate") == "eval" and stage.inputs == ("tasks", "merge")
    assert "evaluate" in stage.sections


def test_missing_backend_name_is_a_clear_error(run_root: Path, tmp_path: Path) -> None:
    cfg = config(tmp_path, tombench=False)
    cfg.evaluate.judge.backend = "nope"
    with pytest.raises(StageError, match=r"'nope', which llm\.backends does not define"):
        evaluate(cfg, run_root)


def test_scripted_scorer_is_a_scorer() -> None:
    assert isinstance(KnowingScorer(), Scorer)
