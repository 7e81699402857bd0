"""The typed schema of ``eval/results.json``: every number the report prints comes from here.

Units follow the paper's tables: in-domain accuracy in percent (Table 1), ToMBench and
MotiveBench accuracy as a fraction (Tables 2-3), application scores on the judge's 1-10 scale
(Tables B2-B4). ``improvement_pct`` is ``(average - base average) / base average x 100`` for a
model with a ``base``, else null.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelInfo(_Out):
    name: str
    backend: str = Field(description="Backend kind and weights, e.g. transformers:/run/merged.")
    model_id: str = Field(description="The backend's model id (weights fingerprint).")
    base: str | None = None


class TaskScore(_Out):
    n: int = Field(description="Questions asked.")
    correct: int
    accuracy_pct: float
    unparseable: int = Field(default=0, description="Replies naming no option (counted wrong).")
    errors: int = Field(default=0, description="Requests that got no reply (counted wrong).")
    n_options: float = Field(description="Mean options per question.")
    chance_pct: float = Field(description="Accuracy of a uniform random guess.")


class InDomainScores(_Out):
    model: str
    scoring: Literal["letter", "loglik"]
    tasks: dict[str, TaskScore]
    average_pct: float | None = Field(description="Mean over the tasks with questions.")
    improvement_pct: float | None = None


class InDomainSet(_Out):
    """The question set every model saw (``eval/mc/*.jsonl``)."""

    questions: dict[str, int] = Field(description="Questions per task.")
    test_rows: dict[str, int] = Field(description="Rows of each task's test split.")
    dropped: dict[str, int] = Field(description="Rows that could not become questions, by reason.")
    distractor_writers: list[str]


class CategoryScore(_Out):
    n: int
    correct: int
    accuracy: float


class TomBenchScores(_Out):
    model: str
    language: Literal["en", "zh"]
    tries: int
    categories: dict[str, CategoryScore]
    average: float | None = Field(description="Mean of the category accuracies.")
    improvement_pct: float | None = None
    two_option_items: int
    unparseable_replies: int


class MotiveBenchScores(_Out):
    model: str
    orders: int
    subsets: dict[str, float] = Field(description="Accuracy per subset, averaged over orders.")
    question_types: dict[str, float] = Field(description="Accuracy per question type.")
    cells: dict[str, dict[str, float]] = Field(description="subset -> question type -> accuracy.")
    questions: dict[str, int] = Field(description="Questions per subset.")
    average: float | None = Field(description="Mean of the subset accuracies.")
    improvement_pct: float | None = None
    unparseable_replies: int


class ApplicationScores(_Out):
    application: str
    model: str
    n: int = Field(description="Answers judged.")
    metrics: dict[str, float] = Field(description="Mean judge score (1-10) per metric.")
    average: float | None
    improvement_pct: float | None = None
    empty_answers: int = Field(description="Answers that were empty (scored 1 everywhere).")
    judge_failures: int = Field(
        description="Answers the judge gave no valid judgement for (left out)."
    )


class EvalResults(_Out):
    """Every benchmark's rows: the built-ins' under their fields, another benchmark's under its
    name (an extra key, written after these)."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA_VERSION
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    run_dir: str = ""
    models: list[ModelInfo]
    in_domain_set: InDomainSet | None = None
    in_domain: list[InDomainScores] = Field(default_factory=list)
    tombench: list[TomBenchScores] = Field(default_factory=list)
    motivebench: list[MotiveBenchScores] = Field(default_factory=list)
    applications: list[ApplicationScores] = Field(default_factory=list)
    judge: str | None = Field(default=None, description="The judge backend.")
    notices: list[str] = Field(default_factory=list)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> EvalResults:
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def rows(self, name: str) -> list[Any]:
        """The rows of benchmark ``name`` (another benchmark's: dicts once read back)."""
        if name in type(self).model_fields:
            rows: list[Any] = getattr(self, name)
            return rows
        found = (self.__pydantic_extra__ or {}).get(name, [])
        if not isinstance(found, list):
            raise ValueError(f"results.json: {name!r} is not a list of rows")
        return found

    def add_rows(self, name: str, rows: Sequence[BaseModel]) -> None:
        """Append rows of benchmark ``name`` (another benchmark's under an extra key)."""
        if not rows:
            return
        if name in type(self).model_fields:
            getattr(self, name).extend(rows)
        else:
            extra = self.__pydantic_extra__
            assert extra is not None
            extra.setdefault(name, []).extend(rows)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def improvement(value: float | None, base: float | None) -> float | None:
    """``(value - base) / base x 100``; None when either is missing or the base is 0."""
    if value is None or base is None or base == 0:
        return None
    return (value - base) / base * 100.0


def fill_rows(
    rows: Sequence[Any], bases: dict[str, str | None], avg: str, key: tuple[str, ...] = ()
) -> None:
    """Set ``improvement_pct`` of each row whose model has a base, over the base's row with the
    same ``key`` fields."""
    index = {(r.model, *(getattr(r, k) for k in key)): r for r in rows}
    for (model, *rest), row in index.items():
        base = bases.get(model)
        other = index.get((base, *rest)) if base else None
        row.improvement_pct = improvement(getattr(row, avg), getattr(other, avg) if other else None)


def fill_improvements(results: EvalResults) -> None:
    """Set ``improvement_pct`` of every model with a base, table by table (every registered
    benchmark's rows)."""
    from humanllm.evaluation.benchmark import fill_improvements as fill

    fill(results)
