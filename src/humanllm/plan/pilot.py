"""The pilot: the curation stages run for real, through the configured backends, on the first
users of each source — as many as keep the clean stage at about K records — in the plan's
scratch run folder. Their ``_SUCCESS.json`` give the rates a full run is projected with: keep
shares (clean, label, portraits, scenarios, QA triplets per record, QC per kind), re-asks per
item, completion tokens per request, and the measured generation rate.

Without a pilot (K = 0) the rates are defaults: everything kept up to QC, three triplets per
record, no re-asks, and the paper's QC shares (§2.3: QC drops about 30% of users, 60% of
scenarios and 40% of social QA samples)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from rich.console import Console

from humanllm.curation.common import subsample
from humanllm.executor import run_stages, stage_dir
from humanllm.plan.counts import CURATION, Counts
from humanllm.runfolder import RunFolder

#: The paper's QC keep shares (§2.3), used without a pilot.
PAPER_QC_KEEP = {"user": 0.7, "scenario": 0.4, "social_qa": 0.6}


@dataclass(frozen=True)
class Rate:
    """A share (or a count per item) with where it comes from and, from a pilot, a 95% interval."""

    value: float
    basis: str  # "pilot" | "default" | "paper"
    n: int = 0  # pilot denominator
    ci95: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 6),
            "basis": self.basis,
            "n": self.n,
            "ci95": None if self.ci95 is None else [round(x, 6) for x in self.ci95],
        }


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def share(k: int, n: int) -> Rate:
    return Rate(k / n if n else 0.0, "pilot", n, wilson(k, n))


@dataclass
class StageMeasure:
    """What the pilot measured for one LLM stage (from its ``_SUCCESS.json``)."""

    requests: int = 0
    items: int = 0
    records_in: int = 0
    records_out: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    wall_s: float = 0.0

    @property
    def completion_per_request(self) -> float:
        return self.tokens_out / self.requests if self.requests else 0.0

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens_out / self.wall_s if self.wall_s > 0 and self.tokens_out else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "wall_s": round(self.wall_s, 3)}


@dataclass
class Pilot:
    k: int
    users_per_source: int = 0
    stages: dict[str, StageMeasure] = field(default_factory=dict)
    rates: dict[str, Rate] = field(default_factory=dict)


def default_rates() -> dict[str, Rate]:
    one = Rate(1.0, "default")
    rates = {
        "clean.keep": one,
        "label.keep": one,
        "users.keep": one,
        "scenarios.keep": one,
        "social_qa.triplets_per_record": Rate(3.0, "default"),
        "social_qa.refine_per_record": Rate(0.0, "default"),
    }
    for stage in CURATION:
        rates[f"{stage}.requests_per_item"] = one
    for kind, keep in PAPER_QC_KEEP.items():
        rates[f"qc.{kind}.keep"] = Rate(keep, "paper")
    return rates


def pilot_users(counts: Counts, k: int) -> int:
    """Most users per source whose curation sample stays within ``k`` records (at least 1)."""
    run = RunFolder(counts.run_dir)
    lf = run.scan("filtered")
    if lf is None:
        return 1
    df = lf.select("source", "user_id", "created_at", "record_id").collect()
    ccfg = counts.cfg.curation
    cap = ccfg.max_users_per_source or df.select(pl.col("user_id").n_unique()).item()
    best = 1
    lo, hi = 1, max(1, int(cap))
    while lo <= hi:  # the sample grows with the users taken: bisect
        mid = (lo + hi) // 2
        if subsample(df, mid, ccfg.max_records_per_user).height <= k:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def run_pilot(counts: Counts, k: int, console: Console | None = None) -> Pilot:
    """Run the curation stages on about ``k`` records in the scratch run folder."""
    users = pilot_users(counts, k)
    cfg = counts.cfg
    curation = cfg.curation.model_copy(update={"max_users_per_source": users})
    pcfg = cfg.model_copy(update={"curation": curation})
    run_stages(pcfg, counts.run_dir, list(CURATION), console=console)
    return read_pilot(RunFolder(counts.run_dir), k, users)


def read_pilot(run: RunFolder, k: int, users: int) -> Pilot:
    pilot = Pilot(k, users)
    for stage in CURATION:
        info = run.success(stage_dir(stage)) or {}
        llm = info.get("llm") or {}
        counts = (info.get("counts") or {}).values()
        pilot.stages[stage] = StageMeasure(
            requests=int(llm.get("requests", 0)),
            items=int(llm.get("items", 0)),
            records_in=sum(int(c.get("in", 0)) for c in counts),
            records_out=sum(int(c.get("out", 0)) for c in counts),
            tokens_in=int(llm.get("tokens_in", 0)),
            tokens_out=int(llm.get("tokens_out", 0)),
            wall_s=float(llm.get("wall_s", 0.0)),
        )
        if stage == "qc":
            kept, judged = info.get("kept") or {}, info.get("judged") or {}
            for kind in PAPER_QC_KEEP:
                if judged.get(kind):
                    pilot.rates[f"qc.{kind}.keep"] = share(int(kept.get(kind, 0)), judged[kind])
    m = pilot.stages
    for stage in ("clean", "label", "users", "scenarios"):
        if m[stage].records_in:
            pilot.rates[f"{stage}.keep"] = share(m[stage].records_out, m[stage].records_in)
    qa = m["social_qa"]
    if qa.records_in:
        pilot.rates["social_qa.triplets_per_record"] = Rate(
            qa.records_out / qa.records_in, "pilot", qa.records_in
        )
        refine = max(0, qa.items - qa.records_in)
        pilot.rates["social_qa.refine_per_record"] = Rate(
            refine / qa.records_in, "pilot", qa.records_in
        )
    for stage, s in m.items():
        if s.items:
            pilot.rates[f"{stage}.requests_per_item"] = Rate(s.requests / s.items, "pilot", s.items)
    return pilot
