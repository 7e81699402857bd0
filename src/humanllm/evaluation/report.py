"""``eval/report.md`` and ``eval/figures/*.png`` from ``eval/results.json`` alone.

The tables have the shape of the paper's: Table 1 (in-domain, one per scoring mode), Table 2
(MotiveBench), Table 3 (ToMBench) and Tables B2-B4 (applications), each with "Avg." and
"Imp. (%)" over the model's base; the best value of a column is in bold, the second in italics
(the paper's red and blue). Each table has a bar chart. Every number is a field of the results,
rounded for print. Each benchmark draws its own tables (:meth:`Benchmark.tables`), in its
``report_order``; lines it adds after all tables (:meth:`Benchmark.appendix`) follow in that order.
"""

from __future__ import annotations

from pathlib import Path

from humanllm.evaluation.benchmark import benchmarks
from humanllm.evaluation.figures import bar_chart
from humanllm.evaluation.results import EvalResults
from humanllm.evaluation.tables import Table


def tables(res: EvalResults) -> list[Table]:
    """Every benchmark's tables, in ``report_order``."""
    return [t for b in sorted(benchmarks(), key=lambda b: b.report_order) for t in b.tables(res)]


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
        lines += [f"## {t.title}", "", t.markdown(), "", *t.notes]
        if t.key in figures:
            lines += [f"![{t.title}]({figures[t.key]})", ""]
    for b in sorted(benchmarks(), key=lambda b: b.report_order):
        lines += b.appendix(res)
    known = {b.name for b in benchmarks()}
    orphans = [k for k in res.__pydantic_extra__ or {} if k not in known]
    if orphans:
        lines += [
            f"Not drawn: results.json has rows of {', '.join(orphans)}, which no registered "
            "benchmark draws (import the module that registers it, as the run's plugins: do).",
            "",
        ]
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
