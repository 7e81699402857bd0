"""``humanllm stats``: records and users per stage and source (the shape of the paper's Table A1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from humanllm import executor
from humanllm.runfolder import RunFolder


def collect_stats(run_dir: str | Path) -> dict[str, Any]:
    """``{"stages": {stage: {source: {"records": N, "users": M}}}}`` for every finished stage."""
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
    return {"stages": ordered}


def stats_table(stats: dict[str, Any]) -> Table:
    stages: dict[str, dict[str, dict[str, int]]] = stats["stages"]
    sources = sorted({src for per in stages.values() for src in per})
    table = Table(title="Records and users per stage (cf. the paper's Table A1)")
    table.add_column("source")
    for stage in stages:
        table.add_column(f"{stage}\nrecords", justify="right")
        table.add_column(f"{stage}\nusers", justify="right")
    totals = {s: [0, 0] for s in stages}
    for src in sources:
        row = [src]
        for stage, per in stages.items():
            v = per.get(src)
            row += [f"{v['records']:,}", f"{v['users']:,}"] if v else ["–", "–"]
            if v:
                totals[stage][0] += v["records"]
                totals[stage][1] += v["users"]
        table.add_row(*row)
    if len(sources) > 1:
        table.add_row("Total", *[f"{x:,}" for s in stages for x in totals[s]], style="bold")
    return table
