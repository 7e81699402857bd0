"""The deterministic part of a plan: the ingest and filter stages run for real on the sources (or
on a sample of them) into a scratch run folder, the curation sample (``curation.subsample``) taken
as the clean stage takes it, and what each LLM stage would be asked per source — clean's parts
(``split_text``), users, narrative records — with a sample of each stage's real prompts rendered
with its template and counted with the stage model's tokenizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from humanllm.config import RunConfig
from humanllm.curation import label, scenarios, social_qa
from humanllm.curation.clean import PLATFORM_RULES, split_text
from humanllm.curation.common import narrative_kinds, platform_of, record_text, subsample, template
from humanllm.curation.users import MAX_STORIES, render_history
from humanllm.executor import run_stages
from humanllm.plan.sampling import SourceSample, sample_source
from humanllm.plan.tokens import Tokenizer, approximate, tokenizer_for
from humanllm.runfolder import RunFolder
from humanllm.stage import StageError

#: LLM stages of curation, in order, and the template each renders.
CURATION = ("clean", "label", "users", "scenarios", "social_qa", "qc")
TEMPLATES = {
    "clean": "clean.v1.txt",
    "label": "label.v1.txt",
    "users": "users.v1.txt",
    "scenarios": "scenarios.v1.txt",
    "social_qa": social_qa.TEMPLATE,
    "social_qa.refine": social_qa.REFINE_TEMPLATE,
    "qc": "qc.v1.txt",
}


@dataclass
class SourceCounts:
    """One source after ingest, filter and the curation sample (unscaled: what was read)."""

    kind: str
    raw: int = 0  # records/ (the paper's raw texts)
    filtered: int = 0
    records: int = 0  # after curation.max_users_per_source / max_records_per_user
    clean_parts: int = 0  # clean requests: one per part of each record
    user_records: list[int] = field(default_factory=list)  # records per user, for users asked
    factor: float = 1.0  # --sample: total / sampled
    sample: SourceSample | None = None
    # mean prompt tokens of one request, per stage (rendered and tokenized)
    prompt_tokens: dict[str, float] = field(default_factory=dict)
    # mean source-text tokens the QC judge sees with each kind of item
    qc_source_tokens: dict[str, float] = field(default_factory=dict)

    @property
    def narrative(self) -> bool:
        return self.kind in narrative_kinds()

    @property
    def users(self) -> int:
        return len(self.user_records)


@dataclass
class Counts:
    sources: dict[str, SourceCounts]
    run_dir: Path  # the scratch run folder: ingest and filter finished, for a pilot
    cfg: RunConfig  # the config that run used (sampled sources under --sample)
    tokenizers: dict[str, str]  # stage -> what its token counts come from


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def _tokenizers(cfg: RunConfig) -> dict[str, Tokenizer]:
    by_backend: dict[str, Tokenizer] = {}
    out: dict[str, Tokenizer] = {}
    for stage in CURATION:
        name = getattr(cfg.curation, stage).backend
        if name not in by_backend:
            backend = cfg.llm.backends.get(name)
            by_backend[name] = tokenizer_for(backend) if backend is not None else approximate()
        out[stage] = by_backend[name]
    return out


def _prompt_tokens(
    cfg: RunConfig, df: pl.DataFrame, kind: str, tok: dict[str, Tokenizer], per_source: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Mean prompt tokens per request of each stage over the first ``per_source`` records (users)
    of one source; and the QC judge's source text per item kind (without the item itself)."""
    ccfg = cfg.curation
    tpl = {stage: template(name) for stage, name in TEMPLATES.items()}
    rows = df.head(per_source).to_dicts()
    clean, lab, scen, qa, qc_rec = [], [], [], [], []
    for row in rows:
        common = {"platform": platform_of(kind), "platform_rules": PLATFORM_RULES.get(kind, "")}
        for part in split_text(record_text(row), ccfg.clean.max_input_chars):
            clean.append(tok["clean"].messages(tpl["clean"].render(**common, record=part)))
        lab.append(tok["label"].messages(tpl["label"].render(**label._fields(row, kind))))
        scen.append(
            tok["scenarios"].messages(tpl["scenarios"].render(**scenarios._fields(row, kind)))
        )
        qa.append(
            tok["social_qa"].messages(tpl["social_qa"].render(**social_qa._fields(row, kind)))
        )
        qc_rec.append(tok["qc"].count(f"({platform_of(kind)})\n{record_text(row)}"))
    users: list[int] = []
    qc_user: list[int] = []
    ordered = df.sort("user_id", "created_at", "record_id", nulls_last=True)
    for _, user_rows in ordered.group_by("user_id", maintain_order=True):
        if len(users) >= per_source:
            break
        history = user_rows.to_dicts()
        text, shown = render_history(history, kind, ccfg.users.context_chars)
        n = len(history)
        note = "" if shown == n else f", {shown} of them shown, evenly spread over time"
        messages = tpl["users"].render(
            platform=platform_of(kind) + "s",
            n_records=n,
            sampling_note=note,
            records=text,
            max_stories=MAX_STORIES,
        )
        users.append(tok["users"].messages(messages))
        qc_user.append(tok["qc"].count(text))
    prompts = {
        "clean": _mean(clean),
        "label": _mean(lab),
        "users": _mean(users),
        "scenarios": _mean(scen),
        "social_qa": _mean(qa),
    }
    return prompts, {"user": _mean(qc_user), "scenario": _mean(qc_rec), "social_qa": _mean(qc_rec)}


def template_tokens(cfg: RunConfig) -> dict[str, float]:
    """Tokens of the refine and QC templates with empty fields: what a request costs before its
    inputs (the plan adds the inputs' estimated tokens)."""
    tok = _tokenizers(cfg)
    refine = template(TEMPLATES["social_qa.refine"]).render(question="", answer="", scenario="")
    qc = template(TEMPLATES["qc"])
    from humanllm.curation.qc import _render

    out = {"social_qa.refine": float(tok["social_qa"].messages(refine))}
    for kind in ("user", "scenario", "social_qa"):
        out[f"qc.{kind}"] = float(tok["qc"].messages(_render(qc, kind, {"text": "", "item": ""})))
    return out


def count(
    cfg: RunConfig,
    work: Path,
    *,
    sample: int | None = None,
    prompt_sample: int = 32,
    console: Console | None = None,
) -> Counts:
    """Run ingest and filter into ``work/run`` and count what the LLM stages would be asked."""
    console = console or Console(stderr=True, quiet=True)
    samples: dict[str, SourceSample] = {}
    if sample is not None:
        sources = []
        for i, src in enumerate(cfg.sources):
            copy, how = sample_source(src, sample, work / "sample" / f"{i}-{src.source_name}")
            sources.append(copy)
            samples[src.source_name] = how
        cfg = cfg.model_copy(update={"sources": sources})
    run_dir = work / "run"
    run_stages(cfg, run_dir, ["ingest", "filter"], console=console)
    run = RunFolder(run_dir)
    kinds = {s.source_name: _kind(s) for s in cfg.sources}
    out = {name: SourceCounts(kind=kinds[name]) for name in cfg.source_names()}
    for folder, attr in (("records", "raw"), ("filtered", "filtered")):
        info = run.success(folder) or {}
        for src, v in (info.get("sources") or {}).items():
            setattr(out[src], attr, int(v.get("records", 0)))
    lf = run.scan("filtered")
    tok = _tokenizers(cfg)
    if lf is not None:
        df = subsample(
            lf.collect(), cfg.curation.max_users_per_source, cfg.curation.max_records_per_user
        )
        for (src,), part in df.group_by("source", maintain_order=True):
            sc = out[str(src)]
            sc.records = part.height
            sc.clean_parts = sum(
                len(split_text(record_text(r), cfg.curation.clean.max_input_chars))
                for r in part.select("title", "text").to_dicts()
            )
            sc.user_records = part.group_by("user_id").len()["len"].to_list()
            sc.prompt_tokens, sc.qc_source_tokens = _prompt_tokens(
                cfg, part, sc.kind, tok, prompt_sample
            )
    for name, how in samples.items():
        out[name].sample = how
        out[name].factor = how.factor
    return Counts(out, run_dir, cfg, {stage: t.method for stage, t in tok.items()})


def _kind(src: Any) -> str:
    kind: str = src.kind
    if kind == "jsonl" and getattr(src, "filter_as", "none") != "none":
        return str(src.filter_as)
    return kind


__all__ = ["CURATION", "Counts", "SourceCounts", "StageError", "count", "template_tokens"]
