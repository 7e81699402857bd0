"""``humanllm stats``: records and users per stage and source, and the paper's Table A1 layout
once the genome is built."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from humanllm import executor
from humanllm.runfolder import RunFolder


def collect_stats(run_dir: str | Path) -> dict[str, Any]:
    """``{"stages": {stage: {source: {"records": N, "users": M}}}}`` for every finished stage,
    plus ``"table_a1"`` (per source) when ``genome/stats.json`` exists."""
    run = RunFolder(Path(run_dir))
    if not run.root.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    stages: dict[str, dict[str, dict[str, int]]] = {}
    known = {executor.stage_dir(name): name for name in executor.STAGES}
    for folder, info in run.finished_stages():
        name = known.get(folder, info.get("stage", folder))
        sources = info.get("sources") or {}
        stages[name] = {
            src: {"records": int(v.get("records", 0)), "users": int(v.get("users", 0))}
            for src, v in sources.items()
        }
    order = list(executor.STAGES)
    ordered = dict(
        sorted(stages.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    )
    out: dict[str, Any] = {"stages": ordered}
    genome = run.genome_dir / "stats.json"
    if genome.is_file():
        out["table_a1"] = json.loads(genome.read_text(encoding="utf-8")).get("table_a1", {})
    return out


def stats_table(stats: dict[str, Any]) -> Table:
    """One row per stage and source: records and users."""
    stages: dict[str, dict[str, dict[str, int]]] = stats["stages"]
    table = Table(title="Records and users per stage and source")
    for col, justify in (
        ("stage", "left"),
        ("source", "left"),
        ("records", "right"),
        ("users", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for stage, per in stages.items():
        for i, (src, v) in enumerate(sorted(per.items())):
            table.add_row(stage if i == 0 else "", src, f"{v['records']:,}", f"{v['users']:,}")
        if len(per) > 1:
            total = sum(v["records"] for v in per.values())
            users = sum(v["users"] for v in per.values())
            table.add_row("", "[dim]total[/dim]", f"[dim]{total:,}[/dim]", f"[dim]{users:,}[/dim]")
        table.add_section()
    return table


A1_COLUMNS = (
    ("raw_texts", "Raw\ntexts"),
    ("df_texts", "DF\ntexts"),
    ("ds_users", "DS\nusers"),
    ("ds_scenarios", "DS\nscen."),
    ("ds_social_qa", "DS\nQA"),
    ("qc_users", "QC\nusers"),
    ("qc_scenarios", "QC\nscen."),
    ("qc_social_qa", "QC\nQA"),
)


def table_a1(a1: dict[str, dict[str, int]]) -> Table:
    """The paper's Table A1 layout for the genome of this run."""
    table = Table(
        title="Cognitive Genome dataset (the paper's Table A1 layout)",
        caption="DF: after data filtering (rules, cleaning, labels); DS: after synthesis; QC: after quality control",
    )
    table.add_column("source")
    for _, title in A1_COLUMNS:
        table.add_column(title, justify="right")
    totals = dict.fromkeys((k for k, _ in A1_COLUMNS), 0)
    for src, row in sorted(a1.items()):
        table.add_row(src, *[f"{row.get(k) or 0:,}" for k, _ in A1_COLUMNS])
        for k, _ in A1_COLUMNS:
            totals[k] += row.get(k) or 0
    table.add_row("Total", *[f"{totals[k]:,}" for k, _ in A1_COLUMNS], style="bold")
    return table
