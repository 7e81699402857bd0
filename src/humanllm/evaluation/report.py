"""``eval/report.md`` and ``eval/figures/*.png`` from ``eval/results.json`` alone.

The tables have the shape of the paper's: Table 1 (in-domain, one per scoring mode), Table 2
(MotiveBench), Table 3 (ToMBench) and Tables B2-B4 (applications), each with "Avg." and
"Imp. (%)" over the model's base; the best value of a column is in bold, the second in italics
(the paper's red and blue). Each table has a bar chart. Every number is a field of the results,
rounded for print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from humanllm.evaluation.config import IN_DOMAIN_TASKS
from humanllm.evaluation.figures import bar_chart
from humanllm.evaluation.judge import APPLICATIONS
from humanllm.evaluation.motivebench import SUBSETS, TYPES
from humanllm.evaluation.results import EvalResults
from humanllm.evaluation.tombench import CATEGORIES, SHORT

TASK_LABELS = {
    "item_selection": "Item Selection",
    "profile_generation": "Profile Generation",
    "scenario_generation": "Scenario Generation",
    "social_qa": "Social QA",
    "writing_imitation": "Writing Imitation",
}
SCORING = {
    "letter": "the model names a letter (the paper's protocol)",
    "loglik": "the option with the highest log-likelihood per byte as the reply to the task",
}


@dataclass
class Table:
    """One table: rows of (model, values, average, improvement) under column labels."""

    key: str  # figure file stem
    title: str
    short: str  # figure title
    columns: list[str]
    rows: list[tuple[str, list[float | None], float | None, float | None]]
    digits: int
    unit: str

    def markdown(self) -> str:
        head = ["Model", *self.columns, "Avg.", "Imp. (%)"]
        marks = [_marks([r[1][c] for r in self.rows]) for c in range(len(self.columns))]
        marks.append(_marks([r[2] for r in self.rows]))
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for i, (model, values, avg, imp) in enumerate(self.rows):
            cells = [_fmt(v, self.digits, marks[c].get(i)) for c, v in enumerate(values)]
            cells.append(_fmt(avg, self.digits, marks[-1].get(i)))
            cells.append("–" if imp is None else f"{imp:+.2f}")
            lines.append("| " + " | ".join([model, *cells]) + " |")
        return "\n".join(lines)


def _marks(values: Sequence[float | None]) -> dict[int, str]:
    """Row index -> "best" / "second" for a column (ties share a mark)."""
    present = sorted({v for v in values if v is not None}, reverse=True)
    out = {}
    for i, v in enumerate(values):
        if v is not None and present and v == present[0]:
            out[i] = "best"
        elif v is not None and len(present) > 1 and v == present[1]:
            out[i] = "second"
    return out if len(values) > 1 else {}


def _fmt(value: float | None, digits: int, mark: str | None) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return f"**{text}**" if mark == "best" else f"*{text}*" if mark == "second" else text


def tables(res: EvalResults) -> list[Table]:
    out = []
    for mode in ("letter", "loglik"):
        rows_ = [r for r in res.in_domain if r.scoring == mode]
        if not rows_:
            continue
        present = {t for r in rows_ for t in r.tasks}
        tasks = [t for t in IN_DOMAIN_TASKS if t in present] + sorted(
            present - set(IN_DOMAIN_TASKS)
        )
        out.append(
            Table(
                f"table1_in_domain_{mode}",
                f"Table 1: in-domain evaluation (%), {SCORING[mode]}",
                f"Table 1: in-domain accuracy (%), {mode} scoring",
                [TASK_LABELS.get(t, t) for t in tasks],
                [
                    (
                        r.model,
                        [r.tasks[t].accuracy_pct if t in r.tasks else None for t in tasks],
                        r.average_pct,
                        r.improvement_pct,
                    )
                    for r in rows_
                ],
                2,
                "accuracy (%)",
            )
        )
    if res.motivebench:
        subsets = list(SUBSETS.values())
        out.append(
            Table(
                "table2_motivebench",
                f"Table 2: MotiveBench accuracy, {res.motivebench[0].orders} option orders",
                "Table 2: MotiveBench accuracy",
                subsets,
                [
                    (r.model, [r.subsets.get(s) for s in subsets], r.average, r.improvement_pct)
                    for r in res.motivebench
                ],
                4,
                "accuracy",
            )
        )
    if res.tombench:
        t0 = res.tombench[0]
        out.append(
            Table(
                "table3_tombench",
                f"Table 3: ToMBench accuracy ({t0.language}, {t0.tries} tries, majority vote); NLC: Non-Literal Communication",
                "Table 3: ToMBench accuracy",
                [SHORT.get(c, c) for c in CATEGORIES],
                [
                    (
                        r.model,
                        [
                            r.categories[c].accuracy if c in r.categories else None
                            for c in CATEGORIES
                        ],
                        r.average,
                        r.improvement_pct,
                    )
                    for r in res.tombench
                ],
                4,
                "accuracy",
            )
        )
    for label, app in zip(("B2", "B3", "B4"), APPLICATIONS, strict=True):
        rows_a = [r for r in res.applications if r.application == app.name]
        if rows_a:
            out.append(
                Table(
                    f"table{label}_{app.name}",
                    f"Table {label}: {app.title} application, judge scores (1-10)",
                    f"Table {label}: {app.title}, judge scores",
                    list(app.labels.values()),
                    [
                        (
                            r.model,
                            [r.metrics.get(m) for m in app.labels],
                            r.average,
                            r.improvement_pct,
                        )
                        for r in rows_a
                    ],
                    4,
                    "judge score (1-10)",
                )
            )
    return out


def _in_domain_notes(res: EvalResults, mode: str) -> list[str]:
    """Chance level per task, and replies counted wrong because they named no option."""
    rows = [r for r in res.in_domain if r.scoring == mode]
    chance: dict[str, float] = {}
    for r in rows:
        for t, s in r.tasks.items():
            chance.setdefault(t, s.chance_pct)
    out = [
        "Chance: " + ", ".join(f"{TASK_LABELS.get(t, t)} {v:.2f}" for t, v in chance.items()) + "."
    ]
    bad = [
        f"{r.model} {sum(s.unparseable for s in r.tasks.values())} unparseable, "
        f"{sum(s.errors for s in r.tasks.values())} without reply"
        for r in rows
        if any(s.unparseable or s.errors for s in r.tasks.values())
    ]
    if bad:
        out.append("Counted wrong: " + "; ".join(bad) + ".")
    return [*out, ""]


def render(res: EvalResults, figures: dict[str, str]) -> str:
    lines = [
        "# Evaluation report",
        "",
        f"Run: `{res.run_dir}` · written {res.created_at} · every number below is a field of "
        "`results.json`, rounded. Bold: best in its column; italics: second best.",
        "",
        "| Model | Backend | Base |",
        "|---|---|---|",
        *[f"| {m.name} | `{m.backend}` | {m.base or '–'} |" for m in res.models],
        "",
    ]
    if res.notices:
        lines += ["**Notices**", "", *[f"- {n}" for n in res.notices], ""]
    for t in tables(res):
        lines += [f"## {t.title}", "", t.markdown(), ""]
        if t.key.startswith("table1_"):
            lines += _in_domain_notes(res, t.key.rsplit("_", 1)[1])
        if t.key in figures:
            lines += [f"![{t.title}]({figures[t.key]})", ""]
    s = res.in_domain_set
    if s is not None:
        lines += ["### In-domain question set", ""]
        lines += [
            f"- {TASK_LABELS.get(k, k)}: {v} questions of {s.test_rows.get(k, 0)} test rows"
            for k, v in s.questions.items()
        ]
        lines += [f"- dropped ({n}): {why}" for why, n in s.dropped.items()]
        lines += [f"- distractor writers: {', '.join(s.distractor_writers) or '–'}", ""]
    if res.motivebench:
        names = [name for *_, name in TYPES]
        lines += [
            "### MotiveBench by question type",
            "",
            "| Model | " + " | ".join(names) + " |",
            "|" + "---|" * (len(names) + 1),
        ]
        for r in res.motivebench:
            lines.append(
                f"| {r.model} | "
                + " | ".join(_fmt(r.question_types.get(n), 4, None) for n in names)
                + " |"
            )
        lines.append("")
    if res.applications and res.judge:
        lines += [f"Judge: `{res.judge}`.", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(res: EvalResults, out_dir: Path) -> list[Path]:
    """``report.md`` and one figure per table under ``out_dir``; returns the files written."""
    fig_dir = out_dir / "figures"
    written: list[Path] = []
    figures: dict[str, str] = {}
    for t in tables(res):
        path = fig_dir / f"{t.key}.png"
        series = {r[0]: [*r[1], r[2]] for r in t.rows}
        bar_chart(path, t.short, [*t.columns, "Avg."], series, t.unit)
        figures[t.key] = f"figures/{path.name}"
        written.append(path)
    report = out_dir / "report.md"
    report.write_text(render(res, figures), encoding="utf-8")
    return [report, *written]
