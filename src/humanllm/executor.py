"""The stage executor: runs stages in order, skips those whose ``_SUCCESS.json`` matches the
current configuration, and records counts, fingerprints and wall time for each."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from humanllm.config import RunConfig, dump_config
from humanllm.llm.config import VLLMBackendConfig
from humanllm.runfolder import RunFolder, atomic_write_text, stage_folder
from humanllm.stage import Stage, StageContext, StageError, StageResult
from humanllm.units import run_units, shutdown_pool

__all__ = ["STAGES", "Stage", "StageContext", "StageError", "StageResult", "run_stages"]


def _stage_table() -> list[Stage]:
    from humanllm.curation.clean import PLAN as clean_units
    from humanllm.curation.common import template_digest
    from humanllm.curation.genome import code_version as genome_version
    from humanllm.curation.genome import run_genome
    from humanllm.curation.label import PLAN as label_units
    from humanllm.curation.qc import PLAN as qc_units
    from humanllm.curation.scenarios import PLAN as scenarios_units
    from humanllm.curation.social_qa import PLAN as social_qa_units
    from humanllm.curation.users import PLAN as users_units
    from humanllm.evaluation.stage import run_evaluate, stage_version
    from humanllm.filters.stage import run_filter
    from humanllm.sources.stage import run_ingest
    from humanllm.tasks.stage import code_version, run_tasks
    from humanllm.train.stage import run_merge, run_train

    llm = "llm.backends"
    sub = ("curation.max_users_per_source", "curation.max_records_per_user")
    return [
        Stage(
            "ingest",
            run_ingest,
            ("sources",),
            (),
            "Read the raw files of every source into records/ (+ items/ for Amazon, comments/ when "
            "a source names comments or replies).",
        ),
        Stage(
            "filter",
            run_filter,
            ("sources", "filter"),
            ("ingest",),
            "Apply the paper's rule filters: filtered/ + rejects/.",
        ),
        Stage(
            "clean",
            clean_units,
            ("curation.clean", llm, *sub),
            ("filter",),
            "LLM rewrite of each record (no HTML/URLs/noise, private data replaced) + PII safety net: cleaned/.",
            template_digest("clean.v1.txt"),
        ),
        Stage(
            "label",
            label_units,
            ("curation.label", llm),
            ("clean",),
            "LLM quality (high/medium/low) and harmfulness labels; keep high-quality harmless records: labeled/.",
            template_digest("label.v1.txt"),
        ),
        Stage(
            "users",
            users_units,
            ("curation.users", llm),
            ("label",),
            "LLM persona, profile, stories and writing style per user: users/.",
            template_digest("users.v1.txt"),
        ),
        Stage(
            "scenarios",
            scenarios_units,
            ("curation.scenarios", llm),
            ("label",),
            "LLM scenario (background, characters, plots) per record, not Amazon: scenarios/.",
            template_digest("scenarios.v1.txt"),
        ),
        Stage(
            "social_qa",
            social_qa_units,
            ("curation.social_qa", llm),
            ("label",),
            "LLM social QA (action, mental state, social reasoning) per record, not Amazon: social_qa/.",
            template_digest("social_qa.v2.txt") + template_digest("social_qa_refine.v1.txt"),
        ),
        Stage(
            "qc",
            qc_units,
            ("curation.qc", "curation.users.context_chars", llm),
            ("users", "scenarios", "social_qa"),
            "LLM judge scores every synthesized item 1-10 on the paper's metrics; keep overall > 8, others > 7: qc/.",
            template_digest("qc.v1.txt"),
        ),
        Stage(
            "genome",
            run_genome,
            ("curation",),
            ("qc",),
            "Assemble the Cognitive Genome dataset: genome/*.parquet, README.md card, stats.json (Table A1).",
            genome_version(),
        ),
        Stage(
            "tasks",
            run_tasks,
            ("tasks",),
            ("genome",),
            "Six training tasks from the genome, balanced and split by user: tasks/<task>/{train,test}.jsonl "
            "(ShareGPT) + dataset_info.json (LlamaFactory).",
            code_version(),
            keep_partial=True,  # resumes by user bucket (tasks/_work/)
        ),
        Stage(
            "train",
            run_train,
            ("train",),
            ("tasks",),
            "Supervised fine-tuning (TRL) on tasks/*/train.jsonl: checkpoints/ (resumes after an interruption).",
            keep_partial=True,
        ),
        Stage(
            "merge",
            run_merge,
            ("merge", "train.base_model"),
            ("train",),
            "Weighted average of the fine-tuned model and its base (the paper: 1:1): merged/.",
        ),
        Stage(
            "evaluate",
            run_evaluate,
            ("evaluate", llm),
            ("tasks", "merge"),
            "Compare models: in-domain multiple choice, ToMBench, MotiveBench, LLM-judged "
            "applications: eval/results.json, report.md, figures/.",
            stage_version(),
        ),
    ]


STAGES: dict[str, Stage] = {s.name: s for s in _stage_table()}

#: Marker of a started ``keep_partial`` stage: the fingerprint its partial outputs belong to.
STARTED = "_STARTED.json"


def _started(path: Path) -> str | None:
    try:
        fp = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None
    return fp if isinstance(fp, str) else None


def stage_dir(name: str) -> str:
    return stage_folder(name)


def fingerprint(cfg: RunConfig, stage: Stage) -> str:
    parts: dict[str, Any] = {
        "stage": stage.name,
        "version": stage.version,
        "config": cfg.section_hash(*stage.sections),
    }
    parts["inputs"] = {i: fingerprint(cfg, STAGES[i]) for i in stage.inputs}
    blob = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_stage_list(spec: str | None) -> list[str]:
    if not spec:
        return list(STAGES)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise StageError(f"unknown stage(s): {', '.join(unknown)}; available: {', '.join(STAGES)}")
    order = list(STAGES)
    return sorted(set(names), key=order.index)


def _source_user_counts(run: RunFolder, folder: str) -> dict[str, dict[str, int]]:
    lf = run.scan(folder)
    if lf is None:
        return {}
    cols = lf.collect_schema().names()
    if "source" not in cols:
        return {}
    aggs = [pl.len().alias("records")]
    if "user_id" in cols:
        aggs.append(pl.col("user_id").n_unique().alias("users"))
    df = lf.group_by("source").agg(aggs).collect()
    return {
        row["source"]: {k: int(v) for k, v in row.items() if k != "source"} for row in df.to_dicts()
    }


def run_stages(
    cfg: RunConfig,
    run_dir: str | Path,
    stages: list[str] | None = None,
    *,
    force: bool = False,
    console: Console | None = None,
) -> dict[str, str]:
    """Run ``stages`` (default: all) in order. Returns ``{stage: "ran" | "skipped"}``."""
    try:
        return _run_stages(cfg, run_dir, stages, force=force, console=console)
    finally:
        shutdown_pool()  # a pool of unit workers lives as long as the run
        _release_engine_actors(cfg)


def _release_engine_actors(cfg: RunConfig) -> None:
    """vLLM engine actors on a Ray cluster live as long as the run (shared by its stages)."""
    addresses = {
        b.ray_address
        for b in cfg.llm.backends.values()
        if isinstance(b, VLLMBackendConfig) and b.ray_address is not None
    }
    if addresses:
        from humanllm.llm.vllm_ray import release_engines

        for address in sorted(addresses):
            release_engines(address, connect_first=True)


def _run_stages(
    cfg: RunConfig,
    run_dir: str | Path,
    stages: list[str] | None,
    *,
    force: bool,
    console: Console | None,
) -> dict[str, str]:
    console = console or Console(stderr=True)
    run = RunFolder(Path(run_dir))
    run.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dump_config(cfg), run.root / "config.yaml")
    selected = stages or list(STAGES)
    outcome: dict[str, str] = {}
    for name in selected:
        stage = STAGES[name]
        folder = stage_dir(name)
        for upstream in stage.inputs:
            up = run.success(stage_dir(upstream))
            if up is None or up.get("fingerprint") != fingerprint(cfg, STAGES[upstream]):
                raise StageError(
                    f"stage {name!r} needs {upstream!r} to be finished with this config; "
                    f"run it first (--stages {upstream},{name})"
                )
        fp = fingerprint(cfg, stage)
        done = run.success(folder)
        if done is not None and done.get("fingerprint") == fp and not force:
            console.print(f"[dim]· {name}: up to date, skipped[/dim]")
            outcome[name] = "skipped"
            continue
        console.print(f"[bold]▶ {name}[/bold] [dim]{stage.help}[/dim]")
        started = run.stage_dir(folder) / STARTED
        resumable = stage.keep_partial or stage.units is not None
        if resumable and not force and done is None and _started(started) == fp:
            console.print(f"[dim]  resuming the unfinished run in {folder}/[/dim]")
        else:
            run.clear_stage(folder, name)
        if resumable:
            atomic_write_text(json.dumps({"fingerprint": fp}) + "\n", started)
        t0 = time.perf_counter()
        ctx = StageContext(cfg=cfg, run=run, stage=name, console=console)
        plan = stage.units
        result = run_units(ctx, plan, folder, fp) if plan is not None else stage.run(ctx)  # type: ignore[operator]
        wall = round(time.perf_counter() - t0, 3)
        info = {
            "stage": name,
            "fingerprint": fp,
            "config_hash": cfg.section_hash(*stage.sections),
            "counts": {src: c.as_dict() for src, c in result.counts.items()},
            "sources": result.extra.pop("sources", None) or _source_user_counts(run, folder),
            "wall_s": wall,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **result.extra,
        }
        run.mark_success(folder, info)
        started.unlink(missing_ok=True)
        total_out = sum(c.records_out for c in result.counts.values())
        total_rej = sum(c.rejected for c in result.counts.values())
        console.print(
            f"[green]✓ {name}[/green]: {total_out:,} out, {total_rej:,} rejected, {wall:.1f}s"
        )
        outcome[name] = "ran"
    return outcome
