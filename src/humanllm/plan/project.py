"""The projection: counts x rates -> requests and tokens per stage, then hours and cost from each
backend's declared throughput and prices; the Table A1 rows the run would end with; training
and evaluation from their configs.

Per source, with ``f`` its ``--sample`` factor and ``p = clean keep x label keep``: clean asks one
request per part of each record; label one per cleaned record; users one per user with at least
one labeled record (expected ``sum_u 1 - (1 - p)^n_u`` over users with ``n_u`` records); scenarios
and social QA one per labeled narrative record (plus refine requests for leaking triplets); QC one
per portrait, scenario and triplet. Every count is multiplied by the stage's re-asks per item."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from humanllm.config import RunConfig
from humanllm.evaluation.config import IN_DOMAIN_TASKS
from humanllm.evaluation.judge import APPLICATIONS
from humanllm.plan.counts import CURATION, Counts, template_tokens
from humanllm.plan.pilot import Pilot, Rate

EVAL_PROMPT_NOTE = "approx: history_records x history_chars / 4 + 100 (task prompts are not built)"


@dataclass
class StagePlan:
    """One row of the plan's table."""

    stage: str
    backend: str
    requests: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    completion_basis: str = ""  # "pilot" or "max_tokens bound"
    tokenizer: str = ""
    hours: float | None = None
    gpu_hours: float | None = None
    cost: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "stage": self.stage,
            "backend": self.backend,
            "requests": round(self.requests),
            "prompt_tokens": round(self.prompt_tokens),
            "completion_tokens": round(self.completion_tokens),
            "completion_basis": self.completion_basis,
            "tokenizer": self.tokenizer,
            "hours": r(self.hours),
            "gpu_hours": r(self.gpu_hours),
            "cost": r(self.cost),
            "note": self.note,
        }


@dataclass
class Plan:
    stages: list[StagePlan]
    table_a1: dict[str, dict[str, float]]
    sources: dict[str, dict[str, Any]]
    rates: dict[str, Rate]
    pilot: Pilot | None
    assumptions: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, float | None]:
        def total(attr: str) -> float | None:
            values = [getattr(s, attr) for s in self.stages]
            known = [v for v in values if v is not None]
            return sum(known) if known else None

        return {
            k: total(k)
            for k in (
                "requests",
                "prompt_tokens",
                "completion_tokens",
                "hours",
                "gpu_hours",
                "cost",
            )
        }


def _timing(row: StagePlan, cfg: RunConfig, pilot: Pilot | None) -> None:
    backend = cfg.llm.backends.get(row.backend)
    runner = cfg.llm.runner
    rate = getattr(backend, "throughput_tokens_per_s", None)
    basis = "declared"
    if rate is None and pilot is not None and row.stage in pilot.stages:
        rate, basis = pilot.stages[row.stage].tokens_per_s, "pilot"
    if rate:
        seconds = row.completion_tokens / rate
        prefill = getattr(backend, "prefill_tokens_per_s", None)
        if prefill:
            seconds += row.prompt_tokens / prefill
        row.hours = seconds / 3600
        gpus = getattr(backend, "gpus", None)
        if gpus:
            row.gpu_hours = row.hours * gpus
        row.note = (row.note + f"; {basis} {rate:,.0f} tok/s").lstrip("; ")
    p_in = getattr(backend, "price_per_1k_input", None)
    p_out = getattr(backend, "price_per_1k_output", None)
    if p_in is None and p_out is None:
        p_in, p_out = runner.price_per_1k_input, runner.price_per_1k_output
    if p_in is not None or p_out is not None:
        row.cost = (row.prompt_tokens * (p_in or 0) + row.completion_tokens * (p_out or 0)) / 1000


def _curation(counts: Counts, rates: dict[str, Rate], pilot: Pilot | None) -> Plan:
    cfg = counts.cfg
    r = {k: v.value for k, v in rates.items()}
    fixed = template_tokens(cfg)
    rows = {
        s: StagePlan(s, getattr(cfg.curation, s).backend, tokenizer=counts.tokenizers[s])
        for s in CURATION
    }
    completion: dict[str, float] = {}
    for s in CURATION:
        m = pilot.stages.get(s) if pilot else None
        if m is not None and m.requests:
            completion[s], rows[s].completion_basis = m.completion_per_request, "pilot"
        else:
            completion[s] = float(getattr(cfg.curation, s).max_tokens)
            rows[s].completion_basis = "max_tokens bound"
    a1: dict[str, dict[str, float]] = {}
    p = r["clean.keep"] * r["label.keep"]
    for name, sc in counts.sources.items():
        f = sc.factor
        cleaned = sc.records * r["clean.keep"]
        labeled = cleaned * r["label.keep"]
        users_in = sum(1 - (1 - p) ** n for n in sc.user_records)
        narrative = labeled if sc.narrative else 0.0
        asked = {
            "clean": sc.clean_parts,
            "label": cleaned,
            "users": users_in,
            "scenarios": narrative,
            "social_qa": narrative * (1 + r["social_qa.refine_per_record"]),
        }
        ds_users = users_in * r["users.keep"]
        ds_scen = narrative * r["scenarios.keep"]
        ds_qa = narrative * r["social_qa.triplets_per_record"]
        asked["qc"] = ds_users + ds_scen + ds_qa
        for s, n in asked.items():
            row = rows[s]
            req = n * f * r[f"{s}.requests_per_item"]
            row.requests += req
            if s == "qc":
                judged = {"user": ds_users, "scenario": ds_scen, "social_qa": ds_qa}
                items = {"user": completion["users"], "scenario": completion["scenarios"]}
                items["social_qa"] = completion["social_qa"] / 3
                total = sum(judged.values()) or 1.0
                mean = sum(
                    judged[k]
                    / total
                    * (fixed[f"qc.{k}"] + sc.qc_source_tokens.get(k, 0.0) + items[k])
                    for k in judged
                )
                row.prompt_tokens += req * mean
            elif s == "social_qa":
                first = narrative * f * r[f"{s}.requests_per_item"]
                refine = req - first
                row.prompt_tokens += first * sc.prompt_tokens.get(s, 0.0)
                row.prompt_tokens += refine * (fixed["social_qa.refine"] + completion[s] / 3)
            else:
                row.prompt_tokens += req * sc.prompt_tokens.get(s, 0.0)
            row.completion_tokens += req * completion[s]
        a1[name] = {
            "raw_texts": sc.raw * f,
            "df_texts": labeled * f,
            "ds_users": ds_users * f,
            "ds_scenarios": ds_scen * f,
            "ds_social_qa": ds_qa * f,
            "qc_users": ds_users * r["qc.user.keep"] * f,
            "qc_scenarios": ds_scen * r["qc.scenario.keep"] * f,
            "qc_social_qa": ds_qa * r["qc.social_qa.keep"] * f,
        }
    for row in rows.values():
        _timing(row, cfg, pilot)
    sources = {
        name: {
            "kind": sc.kind,
            "raw": sc.raw,
            "filtered": sc.filtered,
            "records": sc.records,
            "users": sc.users,
            "clean_parts": sc.clean_parts,
            "factor": round(sc.factor, 6),
            "sample": sc.sample.as_dict() if sc.sample else None,
            "prompt_tokens": {k: round(v, 1) for k, v in sc.prompt_tokens.items()},
        }
        for name, sc in counts.sources.items()
    }
    return Plan(list(rows.values()), a1, sources, rates, pilot)


def _training(
    cfg: RunConfig,
    a1: dict[str, dict[str, float]],
    tokens_per_s: float | None,
    gpus: int | None,
) -> StagePlan:
    t, tr = cfg.tasks, cfg.train
    if t.total_train is not None:
        rows, note = float(t.total_train), "rows: tasks.total_train"
    else:
        keys = ("qc_users", "qc_scenarios", "qc_social_qa", "df_texts")
        rows = (1 - t.test_fraction) * sum(v[k] for v in a1.values() for k in keys)
        note = "rows approx: (1 - test_fraction) x (QC users + scenarios + QA + DF texts)"
    steps = tr.max_steps or math.ceil(rows * tr.epochs / tr.total_batch_size)
    tokens = float(steps * tr.total_batch_size * tr.max_length)
    row = StagePlan("train", tr.base_model, completion_basis="max_length bound")
    row.prompt_tokens = tokens
    row.note = f"{note}; {steps:,} steps x {tr.total_batch_size} rows x {tr.max_length} tokens"
    if tokens_per_s:
        row.hours = tokens / tokens_per_s / 3600
        row.gpu_hours = row.hours * (gpus or tr.launch.num_processes)
        row.note += f"; declared {tokens_per_s:,.0f} tok/s"
    return row


def _backend_name(spec: Any) -> str:
    return spec if isinstance(spec, str) else str(getattr(spec, "kind", "in place"))


def _evaluation(cfg: RunConfig, pilot: Pilot | None) -> list[StagePlan]:
    e, t = cfg.evaluate, cfg.tasks
    dom = e.in_domain
    tasks = [x for x in dom.tasks if x in IN_DOMAIN_TASKS]
    per_task = dom.per_task or ((t.total_test or 0) // 6)
    questions = per_task * len(tasks)
    generated = per_task * len([x for x in tasks if x != "item_selection"])
    prompt = t.history_records * t.history_chars / 4 + 100
    rows: list[StagePlan] = []
    slots = dom.n_options - 1
    for i, spec in enumerate(e.distractor_models):  # slots are dealt to the writers in turn
        share = len(range(i, slots, len(e.distractor_models)))
        row = StagePlan("evaluate.distractors", _backend_name(spec.backend), generated * share)
        row.completion_tokens = row.requests * dom.distractor_max_tokens
        rows.append(row)
    n_apps = len(APPLICATIONS) if e.judge.samples else 0
    for m in e.models:
        row = StagePlan(f"evaluate.answers {m.name}", _backend_name(m.backend))
        letter = questions if "letter" in e.scoring else 0
        row.requests = letter + e.judge.samples * n_apps
        row.completion_tokens = letter * dom.answer_max_tokens + (
            e.judge.samples * n_apps * e.judge.answer_max_tokens
        )
        if "loglik" in e.scoring:
            row.note = f"+ {questions:,} log-likelihood scorings (no generation)"
        rows.append(row)
    judge = StagePlan("evaluate.judge", _backend_name(e.judge.backend))
    judge.requests = e.judge.samples * n_apps * len(e.models)
    judge.completion_tokens = judge.requests * e.judge.max_tokens
    rows.append(judge)
    for row in rows:
        row.prompt_tokens = row.requests * prompt
        row.completion_basis = "max_tokens bound"
        row.tokenizer = EVAL_PROMPT_NOTE
        _timing(row, cfg, pilot)
    return rows


def project(
    counts: Counts,
    pilot: Pilot | None,
    defaults: dict[str, Rate],
    *,
    train_tokens_per_s: float | None = None,
    train_gpus: int | None = None,
) -> Plan:
    rates = {**defaults, **(pilot.rates if pilot else {})}
    plan = _curation(counts, rates, pilot)
    plan.stages.append(_training(counts.cfg, plan.table_a1, train_tokens_per_s, train_gpus))
    plan.stages.extend(_evaluation(counts.cfg, pilot))
    e = counts.cfg.evaluate
    if e.tombench.path or e.motivebench.path:
        plan.assumptions.append(
            "ToMBench / MotiveBench are not projected: their items are counted when the stage runs"
        )
    return plan
