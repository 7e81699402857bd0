"""A plan as rich tables (stages with totals, rates, the Table A1 projection) and as JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from humanllm.plan.project import Plan
from humanllm.stats import A1_COLUMNS, table_a1

#: Version of the ``--json`` layout (bump when a key changes meaning or goes).
SCHEMA_VERSION = 1


def as_json(plan: Plan, meta: dict[str, Any]) -> dict[str, Any]:
    totals = plan.totals()
    return {
        "schema_version": SCHEMA_VERSION,
        **meta,
        "sources": plan.sources,
        "rates": {k: v.as_dict() for k, v in sorted(plan.rates.items())},
        "pilot": None
        if plan.pilot is None
        else {
            "k": plan.pilot.k,
            "users_per_source": plan.pilot.users_per_source,
            "stages": {s: m.as_dict() for s, m in plan.pilot.stages.items()},
        },
        "stages": [s.as_dict() for s in plan.stages],
        "totals": {k: None if v is None else round(v, 4) for k, v in totals.items()},
        "table_a1": {
            src: {k: round(row.get(k, 0.0)) for k, _ in A1_COLUMNS}
            for src, row in plan.table_a1.items()
        },
        "assumptions": plan.assumptions,
    }


def _num(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def _money(x: float | None) -> str:
    return "–" if x is None else f"${x:,.2f}"


def stages_table(plan: Plan) -> Table:
    table = Table(
        title="Projected requests, tokens, time and cost per stage",
        caption="hours: completion tokens / declared (or pilot-measured) tok/s, + prompt tokens / "
        "prefill tok/s when declared; –: no throughput or price declared",
    )
    for col in ("stage", "backend"):
        table.add_column(col)
    for col in ("requests", "prompt tok", "completion tok", "hours", "GPU-h", "cost"):
        table.add_column(col, justify="right")
    table.add_column("basis", style="dim")
    for s in plan.stages:
        basis = "; ".join(x for x in (s.completion_basis, s.note) if x)
        table.add_row(
            s.stage,
            s.backend,
            _num(s.requests),
            _num(s.prompt_tokens),
            _num(s.completion_tokens),
            _num(s.hours, 2),
            _num(s.gpu_hours, 1),
            _money(s.cost),
            basis,
        )
    t = plan.totals()
    table.add_section()
    table.add_row(
        "Total",
        "",
        _num(t["requests"]),
        _num(t["prompt_tokens"]),
        _num(t["completion_tokens"]),
        _num(t["hours"], 2),
        _num(t["gpu_hours"], 1),
        _money(t["cost"]),
        "",
        style="bold",
    )
    return table


def rates_table(plan: Plan) -> Table:
    table = Table(title="Rates the projection uses")
    table.add_column("rate")
    table.add_column("value", justify="right")
    table.add_column("basis")
    table.add_column("pilot n", justify="right")
    table.add_column("95% interval", justify="right")
    for name, r in sorted(plan.rates.items()):
        ci = "" if r.ci95 is None else f"{r.ci95[0]:.2f}–{r.ci95[1]:.2f}"
        table.add_row(name, f"{r.value:.3f}", r.basis, str(r.n or ""), ci)
    return table


def print_plan(plan: Plan, console: Console, tokenizers: dict[str, str]) -> None:
    console.print(stages_table(plan))
    console.print(rates_table(plan))
    a1 = {src: {k: round(v) for k, v in row.items()} for src, row in plan.table_a1.items()}
    a1_table = table_a1(a1)
    a1_table.title = "Projected Cognitive Genome dataset (the paper's Table A1 layout)"
    console.print(a1_table)
    for stage, how in tokenizers.items():
        console.print(f"[dim]prompt tokens of {stage}: {how}[/dim]")
    for note in plan.assumptions:
        console.print(f"[dim]assumption: {note}[/dim]")
