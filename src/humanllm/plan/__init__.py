"""``humanllm plan``: what a configuration will ask for, per stage, before it is run.

Ingest and filter run for real on the sources (or on ``--sample N`` records of each, scaled to
the source's size) in a scratch folder; the curation sample, clean's parts, users and narrative
records give each LLM stage's requests; a sample of each stage's real prompts, rendered with its
template and counted with its model's tokenizer (or a stated approximation), gives prompt tokens;
a pilot of about K records through the configured backends (``--pilot K``) gives completion
tokens, keep shares and re-asks (else ``max_tokens`` bounds and the paper's QC shares); declared
throughputs and prices give hours and cost. Nothing is written outside the scratch folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from humanllm.config import RunConfig
from humanllm.plan.counts import Counts, count
from humanllm.plan.pilot import default_rates, run_pilot
from humanllm.plan.project import Plan, project


def make_plan(
    cfg: RunConfig,
    *,
    sample: int | None = None,
    pilot: int = 0,
    train_tokens_per_s: float | None = None,
    train_gpus: int | None = None,
    work_dir: Path | None = None,
    console: Console | None = None,
) -> tuple[Plan, Counts]:
    """Count, pilot (``pilot`` > 0) and project ``cfg``; ``work_dir`` (default: a temporary
    folder, removed after) holds the scratch run folder."""
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="humanllm-plan-") as tmp:
            return make_plan(
                cfg,
                sample=sample,
                pilot=pilot,
                train_tokens_per_s=train_tokens_per_s,
                train_gpus=train_gpus,
                work_dir=Path(tmp),
                console=console,
            )
    counts = count(cfg, work_dir, sample=sample, console=console)
    measured = run_pilot(counts, pilot, console) if pilot > 0 else None
    plan = project(
        counts,
        measured,
        default_rates(),
        train_tokens_per_s=train_tokens_per_s,
        train_gpus=train_gpus,
    )
    if sample is not None:
        plan.assumptions.append(
            f"--sample {sample}: each source's counts are its first {sample} records' "
            "scaled by total / sampled rows"
        )
    if measured is None:
        plan.assumptions.append(
            "no pilot: completion tokens are max_tokens bounds; keep shares 1 up to QC; "
            "QC keeps 70% of users, 40% of scenarios, 60% of QA (the paper, §2.3)"
        )
    return plan, counts


__all__ = ["Plan", "make_plan"]
