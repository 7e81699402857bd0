"""Bad sheets: each problem is an error naming the file and the row."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from humanllm.cli import app
from humanllm.humaneval.score import ScoreConfig, score
from humanllm.humaneval.sheets import SheetError
from tests.humaneval.fixtures import fill, genome_run, read_rows, sampled, write_rows

Rows = list[dict[str, str]]


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    folder = sampled(genome_run(tmp_path / "run", sources=("reddit",), users_per_source=3), n=9)
    fill(folder, lambda *_: (4, 5))
    return folder


def _edit(folder: Path, annotator: str, change: Callable[[Rows], Rows]) -> Path:
    path = folder / "sheets" / f"{annotator}.csv"
    write_rows(path, change(read_rows(path)))
    return path


def _set(k: int, column: str, value: str) -> Callable[[Rows], Rows]:
    def change(rows: Rows) -> Rows:
        rows[k][column] = value
        return rows

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(1, "hallucination", "6"), r"row 3: hallucination rating 6 is outside 1-5"),
        (_set(0, "plausibility", "0"), r"row 2: plausibility rating 0 is outside 1-5"),
        (_set(2, "plausibility", "4.5"), r"row 4: plausibility rating 4.5 is outside 1-5"),
        (_set(0, "hallucination", "good"), r"row 2: hallucination rating 'good' is not a number"),
        (_set(1, "hallucination", ""), r"row 3: no hallucination rating"),
        (_set(0, "instance_id", "i999"), r"row 2: unknown instance id 'i999'"),
        (
            _set(2, "annotator", "zoe"),
            r"row 4: annotator 'zoe' is not in the assignment \(a1, a2, a3\)",
        ),
    ],
)
def test_bad_cell_names_file_and_row(
    filled: Path, change: Callable[[Rows], Rows], message: str
) -> None:
    path = _edit(filled, "a1", change)
    with pytest.raises(SheetError, match=rf"{re.escape(str(path))}, {message}"):
        score(filled, ScoreConfig(n_boot=0))


def test_missing_row_names_the_file_and_instance(filled: Path) -> None:
    dropped: list[str] = []

    def drop(rows: Rows) -> Rows:
        dropped.append(rows[1]["instance_id"])
        return rows[:1] + rows[2:]

    path = _edit(filled, "a2", drop)
    with pytest.raises(
        SheetError,
        match=rf"{re.escape(str(path))}: missing row for instance {dropped[0]} \(annotator a2\)",
    ):
        score(filled, ScoreConfig(n_boot=0))


def test_twice_and_not_assigned_and_no_sheet(filled: Path) -> None:
    a1 = read_rows(filled / "sheets" / "a1.csv")
    a2_ids = {r["instance_id"] for r in read_rows(filled / "sheets" / "a2.csv")}
    foreign = next(i for i in a2_ids if i not in {r["instance_id"] for r in a1})
    path = _edit(
        filled, "a1", lambda rows: [*rows, dict(rows[0]), {**rows[0], "instance_id": foreign}]
    )
    n = len(a1)
    with pytest.raises(SheetError) as e:
        score(filled, ScoreConfig(n_boot=0))
    text = str(e.value)
    assert f"{path}, row {n + 2}: a1 rated {a1[0]['instance_id']} already ({path}, row 2)" in text
    assert f"{path}, row {n + 3}: instance {foreign} is not assigned to annotator a1" in text
    (filled / "sheets" / "a3.csv").unlink()
    with pytest.raises(SheetError, match=r"sheets/a3.csv \(no rows of a3\): missing row"):
        score(filled, ScoreConfig(n_boot=0))


def test_header_without_a_rating_column(filled: Path) -> None:
    path = _edit(
        filled,
        "a3",
        lambda rows: [{k: v for k, v in r.items() if k != "plausibility"} for r in rows],
    )
    with pytest.raises(
        SheetError,
        match=rf"{re.escape(str(path))}, row 1: the header lacks column\(s\) plausibility",
    ):
        score(filled, ScoreConfig(n_boot=0))


def test_cli_reports_bad_sheets_and_exits_2(filled: Path) -> None:
    path = _edit(filled, "a1", _set(0, "hallucination", "9"))
    result = CliRunner().invoke(app, ["human-eval", "score", str(filled), "--n-boot", "0"])
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert f"{path}, row 2: hallucination rating 9 is outside 1-5" in flat
    assert not (filled / "scores.json").exists()
