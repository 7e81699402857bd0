"""The ``stages`` scenario of ``scale.py``: every stage ingest -> tasks at 1x, 4x and 16x a base
size, each stage in its own process, against the zero-latency loopback stub of
``_stub_openai.py`` (its own process too).

Per size: a synthetic corpus of ``base x factor`` records per source (Blogger XML, all-string
Reddit Parquet, Amazon JSONL; see ``_scale_corpus.py``) is written by a child, then a config
like ``configs/quickstart.yaml`` but with one ``openai`` backend ("stub") for every LLM stage, no
subsampling (every user, every record) and the paper's filter and QC thresholds, then each stage
runs as ``scale.py _child stage <config> <run> <stage>`` (``run_stages(..., [stage])`` on the run
folder, as ``humanllm <stage>`` does). Peak RSS is the child's ``ru_maxrss`` from ``wait4``
(the child and any process it waited for, e.g. a worker pool); wall is the child's own timing
of the stage.

The floor is the peak RSS of a child that imports the pipeline (every stage's module, polars,
the OpenAI client) and runs nothing: a stage's RSS minus the floor is what its data costs.
The launcher keeps its own memory small (no polars/numpy in it), since Linux starts a child's
high-water mark at the parent's.

Targets (issue 14): peak RSS at 16x <= 1.3x the 1x figure, wall at 16x <= 18x the 1x figure;
for a top factor F other than 16 the wall target scales to 18/16 x F (RSS stays 1.3x).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGE_ORDER = (
    "ingest", "filter", "clean", "label", "users", "scenarios", "social_qa", "qc", "genome",
    "tasks",
)  # fmt: skip
RSS_TARGET = 1.3
WALL_TARGET_16 = 18.0
N_SOURCES = 3  # blogger, reddit, amazon: each gets base x factor raw records
SCRIPT = Path(__file__).resolve().parent / "scale.py"


@dataclass
class StageRun:
    stage: str
    factor: int
    records: int  # raw records per source
    peak_rss_mb: float
    wall_s: float
    out: int = 0
    rejected: int = 0
    requests: int = 0
    error: str = ""


@dataclass
class Verdict:
    stage: str
    rss_ratio: float | None
    wall_ratio: float | None
    rss_ok: bool | None
    wall_ok: bool | None
    notes: list[str] = field(default_factory=list)
    #: Growth of peak RSS from the lowest to the top size, per raw record added (all sources).
    slope_kb_per_record: float | None = None


# --- children -----------------------------------------------------------------------------------
def measured(*args: str) -> tuple[dict[str, Any], float, str]:
    """Run ``scale.py _child <args>``: (its last stdout line as JSON, peak RSS MB, stderr tail).
    The RSS is ``wait4``'s: the child's high-water mark, or a descendant's it waited for."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "_child", *args], stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        tail = err.read()[-3000:]
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}"}, usage.ru_maxrss / 1024, tail
    try:
        got = json.loads(lines[-1]) if lines else {}
    except ValueError:
        got = {"error": f"no JSON from the child: {lines[-1][:200]!r}"}
    return got, usage.ru_maxrss / 1024, tail


def child_floor() -> None:
    """Import what a stage process imports before it runs (see :func:`child_stage`; the LLM
    client too), run nothing."""
    import openai  # noqa: F401
    import polars  # noqa: F401
    from rich.console import Console  # noqa: F401

    import humanllm
    import humanllm.config
    import humanllm.llm.openai_backend
    import humanllm.runfolder
    from humanllm.executor import STAGES

    print(json.dumps({"stages": len(STAGES), "humanllm": str(Path(humanllm.__file__).parent)}))


def child_stage(config: Path, run: Path, stage: str) -> None:
    """Run one stage on a run folder and print its wall, counts and LLM requests as JSON."""
    from rich.console import Console

    from humanllm.config import load_config
    from humanllm.executor import run_stages
    from humanllm.runfolder import RunFolder

    try:
        from humanllm.executor import stage_dir
    except ImportError:  # the folder names may move into RunFolder

        def stage_dir(name: str) -> str:
            return {"ingest": "records", "filter": "filtered", "clean": "cleaned"}.get(
                name, "labeled" if name == "label" else name
            )

    cfg = load_config(config)
    start = time.perf_counter()
    run_stages(cfg, run, [stage], force=True, console=Console(stderr=True))
    wall = time.perf_counter() - start
    info = RunFolder(run).success(stage_dir(stage)) or {}
    counts = info.get("counts") or {}
    llm = info.get("llm") or {}
    print(
        json.dumps(
            {
                "wall_s": wall,
                "out": sum(int(c.get("out", 0)) for c in counts.values()),
                "rejected": sum(int(c.get("rejected", 0)) for c in counts.values()),
                "requests": int(llm.get("requests", 0) or 0) if isinstance(llm, dict) else 0,
            }
        )
    )


def child_corpus(root: Path, n: int) -> None:
    from _scale_corpus import corpus

    paths = corpus(root, n)
    print(json.dumps({k: str(v) for k, v in paths.items()}))


# --- the scenario -------------------------------------------------------------------------------
def write_config(path: Path, data: dict[str, str], url: str, unit: int) -> None:
    """``unit``: the unit size (records) of every stage — ingest shards (so the per-record
    stages' shards), user buckets of users/qc, task buckets, and the in-flight window — fixed
    across sizes, so a bigger corpus means more units, not bigger ones."""
    import yaml

    stub = {"backend": "stub"}
    shard = {"batch_size": unit}
    cfg = {
        "sources": [
            {"kind": "blogger", "path": data["blogger"], **shard},
            {"kind": "reddit", "path": data["reddit"], **shard},
            {"kind": "amazon", "path": data["amazon"], "meta_path": data["amazon_meta"], **shard},
        ],
        "executor": {"records_per_unit": unit, "rows_in_flight": unit},
        "llm": {
            "backends": {"stub": {"kind": "openai", "base_url": url, "model": "stub"}},
        },
        # No max_users_per_source / max_records_per_user: every user, every record; the
        # paper's label rule (high, harmless) and QC thresholds (overall > 8, others > 7).
        "curation": {
            name: dict(stub) for name in ("clean", "label", "users", "scenarios", "social_qa", "qc")
        },
        "tasks": {"bucket_records": unit},
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def one_size(
    root: Path, base: int, factor: int, url: str, stages: tuple[str, ...]
) -> list[StageRun]:
    n = base * factor
    got, _, err = measured("gen-corpus", str(root / "data"), str(n))
    if "error" in got:
        raise SystemExit(f"corpus generation failed at {n:,} records:\n{err}")
    config, run = root / "config.yaml", root / "run"
    write_config(config, got, url, unit=base)
    rows: list[StageRun] = []
    for stage in stages:
        res, rss, err = measured("stage", str(config), str(run), stage)
        row = StageRun(stage, factor, n, round(rss, 1), round(float(res.get("wall_s", 0.0)), 2))
        row.out, row.rejected = int(res.get("out", 0)), int(res.get("rejected", 0))
        row.requests = int(res.get("requests", 0))
        rows.append(row)
        if "error" in res:
            row.error = res["error"]
            print(f"  {factor}x {stage}: FAILED ({res['error']})\n{err}", file=sys.stderr)
            break  # the later stages need this one
        print(
            f"  {factor}x {stage:<9} {rss:>8,.0f} MB {row.wall_s:>8.1f} s "
            f"out {row.out:>8,} rejected {row.rejected:>7,} requests {row.requests:>8,}",
            file=sys.stderr,
        )
    return rows


def verdicts(rows: list[StageRun], stages: tuple[str, ...], factors: list[int]) -> list[Verdict]:
    lo, hi = factors[0], factors[-1]
    wall_target = WALL_TARGET_16 / 16 * (hi / lo)
    out = []
    for stage in stages:
        by = {r.factor: r for r in rows if r.stage == stage and not r.error}
        if lo not in by or hi not in by or hi == lo:
            out.append(Verdict(stage, None, None, None, None, ["not measured at both ends"]))
            continue
        a, b = by[lo], by[hi]
        rss = b.peak_rss_mb / a.peak_rss_mb
        wall = b.wall_s / a.wall_s if a.wall_s > 0 else None
        added = N_SOURCES * (b.records - a.records)
        slope = (b.peak_rss_mb - a.peak_rss_mb) * 1024 / added
        out.append(
            Verdict(
                stage,
                round(rss, 2),
                round(wall, 2) if wall is not None else None,
                rss <= RSS_TARGET,
                wall <= wall_target if wall is not None else None,
                slope_kb_per_record=round(slope, 1),
            )
        )
    return out


def stages_scale(
    base: int, factors: list[int], stages: tuple[str, ...] = STAGE_ORDER
) -> tuple[list[StageRun], list[Verdict], dict[str, Any]]:
    from _stub_openai import StubProcess

    floor, floor_rss, err = measured("floor")
    if "error" in floor:
        raise SystemExit(f"floor child failed:\n{err}")
    print(f"  floor (interpreter + libraries): {floor_rss:,.0f} MB", file=sys.stderr)
    rows: list[StageRun] = []
    t0 = time.perf_counter()
    unknown = [s for s in stages if s not in STAGE_ORDER]
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGE_ORDER)}")
    # A stage needs the ones before it: run every stage up to the last one asked for.
    upto = STAGE_ORDER[: max(STAGE_ORDER.index(s) for s in stages) + 1]
    with StubProcess() as stub:
        for factor in factors:
            with tempfile.TemporaryDirectory(prefix=f"scale-stages-{factor}x-") as tmp:
                rows += one_size(Path(tmp), base, factor, stub.url, upto)
    rows = [r for r in rows if r.stage in stages]
    stages = tuple(s for s in STAGE_ORDER if s in stages)
    lo, hi = factors[0], factors[-1]
    summary: dict[str, Any] = {
        "base_records_per_source": base,
        "sources": "blogger (XML), reddit (all-string parquet), amazon (JSONL)",
        "factors": factors,
        "humanllm": floor.get("humanllm", "?"),
        "floor_rss_mb": round(floor_rss, 1),
        "launcher_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": f"peak RSS {hi}x/{lo}x <= {RSS_TARGET}; wall {hi}x/{lo}x <= "
        f"{WALL_TARGET_16 / 16 * hi / lo:g} (18 at 16x)",
        "total_wall_s": round(time.perf_counter() - t0, 1),
    }
    first = [r for r in rows if r.factor == lo and not r.error]
    summary["data_dominates_at_1x"] = [r.stage for r in first if r.peak_rss_mb > 2 * floor_rss]
    return rows, verdicts(rows, stages, factors), summary


def table(rows: list[StageRun], verdicts_: list[Verdict], summary: dict[str, Any]) -> str:
    factors: list[int] = summary["factors"]
    floor = summary["floor_rss_mb"]
    lo, hi = factors[0], factors[-1]
    head = f"{'stage':<10}" + "".join(f" {f'RSS {f}x':>9} {f'wall {f}x':>9}" for f in factors)
    head += f" {'above floor ' + str(lo) + 'x':>15} {f'RSS {hi}/{lo}':>10} {f'wall {hi}/{lo}':>10} {'kB/rec':>7}  verdict"
    lines = [
        f"stages scale: base {summary['base_records_per_source']:,} raw records per source "
        f"({summary['sources']}) x {', '.join(f'{f}' for f in factors)}",
        f"floor (a child importing the pipeline, running nothing): {floor:,.0f} MB; "
        f"launcher {summary['launcher_rss_mb']:,.0f} MB; humanllm from {summary['humanllm']}",
        f"targets: {summary['targets']}",
        "",
        head,
        "-" * len(head),
    ]
    by = {(r.stage, r.factor): r for r in rows}
    for v in verdicts_:
        cells = ""
        for f in factors:
            r = by.get((v.stage, f))
            if r is None or r.error:
                cells += f" {'-' if r is None else 'FAILED':>9} {'':>9}"
            else:
                cells += f" {r.peak_rss_mb:>9,.0f} {r.wall_s:>9.1f}"
        base_row = by.get((v.stage, lo))
        above = f"{base_row.peak_rss_mb - floor:>+15,.0f}" if base_row else f"{'-':>15}"
        if v.rss_ratio is None:
            lines.append(f"{v.stage:<10}{cells} {above} {'-':>10} {'-':>10} {'-':>7}  not measured")
            continue
        verdict = "PASS" if v.rss_ok and v.wall_ok else "FAIL"
        why = [w for w, ok in (("RSS", v.rss_ok), ("wall", v.wall_ok)) if not ok]
        wall = f"{v.wall_ratio:>10.2f}" if v.wall_ratio is not None else f"{'-':>10}"
        slope = (
            f"{v.slope_kb_per_record:>7.1f}" if v.slope_kb_per_record is not None else f"{'-':>7}"
        )
        lines.append(
            f"{v.stage:<10}{cells} {above} {v.rss_ratio:>10.2f} {wall} {slope}  {verdict}"
            + (f" ({', '.join(why)})" if why else "")
        )
    lines.append("")
    lines.append(
        "RSS in MB (peak of the stage's process); wall in s (the stage, not the interpreter's "
        f"start); 'above floor' = RSS - floor; kB/rec = RSS growth {lo}x -> {hi}x per raw record."
    )
    counts = [r for r in rows if r.factor == hi]
    if counts:
        lines.append(
            f"at {hi}x: "
            + "; ".join(
                f"{r.stage} {r.out:,} out/{r.rejected:,} rej/{r.requests:,} req" for r in counts
            )
        )
    dominated = summary.get("data_dominates_at_1x") or []
    lines.append(
        f"stages whose data outweighs the floor at {lo}x (RSS > 2x floor): "
        + (
            ", ".join(dominated)
            if dominated
            else "none: at this base the interpreter and libraries dominate the 1x figures"
        )
    )
    lines.append(f"total wall {summary['total_wall_s']:,.0f} s")
    return "\n".join(lines)
