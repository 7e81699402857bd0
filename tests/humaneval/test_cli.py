"""``humanllm human-eval``: wired into the command table, help that explains, sample -> score."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from humanllm.cli import app
from tests.humaneval.fixtures import fill, genome_run


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_help_explains_each_command() -> None:
    runner = CliRunner()
    group = runner.invoke(app, ["human-eval", "--help"])
    assert group.exit_code == 0 and "Appendix A.4" in _flat(group.output)
    assert "sample" in group.output and "score" in group.output
    sample = _flat(runner.invoke(app, ["human-eval", "sample", "--help"]).output)
    for words in ("stratified sample", "each pair rates equally many", "--per-item", "index.html"):
        assert words in sample, words
    score = _flat(runner.invoke(app, ["human-eval", "score", "--help"]).output)
    for words in (
        "Krippendorff's alpha",
        "bootstrap 95% interval",
        "report.md",
        "naming the file and row",
    ):
        assert words in score, words


def test_sample_prints_the_allocation_then_score_prints_alpha(tmp_path: Path) -> None:
    run = genome_run(tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(
        app, ["human-eval", "sample", str(run), "--n", "30", "--seed", "4", "--name", "pilot"]
    )
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert "Allocation" in out and "reddit · scenario" in out and "total 210 30" in out
    assert "a1+a2 10" in out and "a1+a3 10" in out and "a2+a3 10" in out
    folder = run / "human_eval" / "pilot"
    again = runner.invoke(app, ["human-eval", "sample", str(run), "--n", "30", "--name", "pilot"])
    assert again.exit_code == 2 and "--force" in _flat(again.output)
    unfilled = runner.invoke(app, ["human-eval", "score", str(folder)])
    assert unfilled.exit_code == 2 and "no hallucination rating" in _flat(unfilled.output)
    fill(folder, lambda iid, a, s: (5 if a == "a1" else 4, 5))
    scored = runner.invoke(app, ["human-eval", "score", str(folder), "--n-boot", "20"])
    assert scored.exit_code == 0, scored.output
    text = _flat(scored.output)
    assert "30 instances" in text and "alpha ordinal" in text and "Per stratum" in text
    assert (folder / "report.md").is_file() and (folder / "figures" / "ratings.png").is_file()


def test_bad_settings_are_clear(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(
        app, ["human-eval", "sample", str(tmp_path), "--annotators", "2", "--per-item", "3"]
    )
    assert r.exit_code == 2 and "cannot exceed the annotators" in _flat(r.output)
    r = runner.invoke(app, ["human-eval", "sample", str(tmp_path)])
    assert r.exit_code == 2 and "no genome" in _flat(r.output)
    r = runner.invoke(app, ["human-eval", "score", str(tmp_path)])
    assert r.exit_code == 2 and "not a human evaluation folder" in _flat(r.output)
