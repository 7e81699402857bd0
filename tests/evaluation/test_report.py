"""The report from a synthetic results.json: tables in the paper's shape, numbers that match,
improvements over the base, a figure per table, and `humanllm evaluate --report-only`."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from humanllm.cli import app
from humanllm.evaluation.report import write_report
from humanllm.evaluation.results import (
    ApplicationScores,
    CategoryScore,
    EvalResults,
    InDomainScores,
    ModelInfo,
    MotiveBenchScores,
    TaskScore,
    TomBenchScores,
    fill_improvements,
)
from humanllm.evaluation.tombench import CATEGORIES

TASKS = [
    "item_selection",
    "profile_generation",
    "scenario_generation",
    "social_qa",
    "writing_imitation",
]


def task(acc: float) -> TaskScore:
    return TaskScore(n=300, correct=round(acc * 3), accuracy_pct=acc, n_options=8, chance_pct=12.5)


def synthetic() -> EvalResults:
    models = [
        ModelInfo(name="Base-7B", backend="transformers:/m/base", model_id="b"),
        ModelInfo(
            name="HumanLLM-7B", backend="transformers:/m/merged", model_id="h", base="Base-7B"
        ),
        ModelInfo(name="Other", backend="openai:gpt", model_id="o"),
    ]
    res = EvalResults(run_dir="/runs/x", models=models, judge="openai:judge")
    for name, accs in (
        ("Base-7B", [15.23, 4.22, 9.33, 1.67, 3.12]),
        ("HumanLLM-7B", [33.16, 39.56, 27.33, 11.00, 25.84]),
        ("Other", [25.54, 5.75, 7.49, 5.83, 7.28]),
    ):
        res.in_domain.append(
            InDomainScores(
                model=name,
                scoring="letter",
                tasks={t: task(a) for t, a in zip(TASKS, accs, strict=True)},
                average_pct=sum(accs) / 5,
            )
        )
    for name, subs in (
        ("Base-7B", (0.7433, 0.6366, 0.6633)),
        ("HumanLLM-7B", (0.7677, 0.6766, 0.6866)),
    ):
        res.motivebench.append(
            MotiveBenchScores(
                model=name,
                orders=6,
                subsets=dict(zip(("Amazon", "Blogger", "Persona"), subs, strict=True)),
                question_types={"Motivation": 0.7},
                cells={},
                questions={"Amazon": 150},
                average=sum(subs) / 3,
                unparseable_replies=0,
            )
        )
    for name, base in (("Base-7B", 0.6), ("HumanLLM-7B", 0.64)):
        cats = {
            c: CategoryScore(n=10, correct=6, accuracy=base + i / 100)
            for i, c in enumerate(CATEGORIES)
        }
        res.tombench.append(
            TomBenchScores(
                model=name,
                language="en",
                tries=5,
                categories=cats,
                average=sum(c.accuracy for c in cats.values()) / 6,
                two_option_items=3,
                unparseable_replies=1,
            )
        )
    for name, vals in (
        ("Base-7B", (7.5183, 8.4250, 6.3208)),
        ("HumanLLM-7B", (7.8391, 8.4983, 6.75)),
    ):
        res.applications.append(
            ApplicationScores(
                application="profile_generation",
                model=name,
                n=1600,
                metrics=dict(zip(("faithfulness", "realism", "coverage"), vals, strict=True)),
                average=sum(vals) / 3,
                empty_answers=0,
                judge_failures=0,
            )
        )
    fill_improvements(res)
    return res


def test_improvements_follow_the_paper() -> None:
    res = synthetic()
    tuned = next(r for r in res.in_domain if r.model == "HumanLLM-7B")
    # Table 1's Qwen2.5-7B rows: 6.71 -> 27.38 (the paper's 308.05 uses the rounded averages)
    assert tuned.improvement_pct == pytest.approx((27.378 - 6.714) / 6.714 * 100)
    assert tuned.improvement_pct == pytest.approx(308.05, abs=0.5)
    mb = next(r for r in res.motivebench if r.model == "HumanLLM-7B")
    assert mb.improvement_pct == pytest.approx(4.30, abs=0.05)
    assert next(r for r in res.in_domain if r.model == "Base-7B").improvement_pct is None
    assert next(r for r in res.in_domain if r.model == "Other").improvement_pct is None


def test_report_tables_and_figures(tmp_path: Path) -> None:
    res = synthetic()
    res.write(tmp_path / "results.json")
    files = write_report(EvalResults.read(tmp_path / "results.json"), tmp_path)
    report = (tmp_path / "report.md").read_text()
    names = {p.name for p in files}
    assert {
        "report.md",
        "table1_in_domain_letter.png",
        "table2_motivebench.png",
        "table3_tombench.png",
        "tableB2_profile_generation.png",
    } <= names
    for p in files:
        assert p.stat().st_size > 1000
    assert (
        "| Model | Item Selection | Profile Generation | Scenario Generation | Social QA | Writing Imitation | Avg. | Imp. (%) |"
        in report
    )
    row = next(ln for ln in report.splitlines() if ln.startswith("| HumanLLM-7B | **33.16**"))
    assert (
        row
        == "| HumanLLM-7B | **33.16** | **39.56** | **27.33** | **11.00** | **25.84** | **27.38** | +307.77 |"
    )
    other = next(ln for ln in report.splitlines() if ln.startswith("| Other | *25.54*"))
    assert other.endswith("| –|") or other.endswith("| – |")
    assert (
        "| Model | Emotion | Desire | Intention | Knowledge | Belief | NLC | Avg. | Imp. (%) |"
        in report
    )
    assert "| Model | Amazon | Blogger | Persona | Avg. | Imp. (%) |" in report
    assert "| Model | Faithfulness | Realism | Coverage | Avg. | Imp. (%) |" in report
    assert "| HumanLLM-7B | **7.8391** | **8.4983** | **6.7500** | **7.6958** | +3.70 |" in report
    assert "![Table 3" in report and "figures/table3_tombench.png" in report


def test_every_printed_number_is_in_results(tmp_path: Path) -> None:
    res = synthetic()
    write_report(res, tmp_path)
    report = (tmp_path / "report.md").read_text()
    printed = {
        float(x) for x in __import__("re").findall(r"(?<![\w.])[+-]?\d+\.\d{2,4}(?![\w.])", report)
    }
    values: set[float] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, float):
            values.update({round(node, 2), round(node, 4)})

    walk(res.model_dump())
    assert printed and printed <= values


def test_report_only_command(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    synthetic().write(run_dir / "eval" / "results.json")
    result = CliRunner().invoke(
        app, ["evaluate", "unused.yaml", "--run-dir", str(run_dir), "--report-only"]
    )
    assert result.exit_code == 0, result.output
    assert (run_dir / "eval" / "report.md").is_file()
    assert (run_dir / "eval" / "figures" / "table2_motivebench.png").is_file()
    missing = CliRunner().invoke(
        app, ["evaluate", "unused.yaml", "--run-dir", str(tmp_path / "none"), "--report-only"]
    )
    assert missing.exit_code == 2 and "no results" in missing.output
