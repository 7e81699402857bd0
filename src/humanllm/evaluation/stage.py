"""Stage ``evaluate`` (§4): every configured model on every configured benchmark
(:mod:`humanllm.evaluation.benchmark`: the in-domain questions, ToMBench, MotiveBench, the
application studies, and any registered from outside); ``eval/results.json``, ``report.md``,
``figures/``.

Order of work: each benchmark loads what it asks (files only), then prepares it (the in-domain
questions are built once, ``eval/mc/<task>.jsonl``), then each model in turn is opened, asked
every benchmark and closed, then each benchmark finishes (the judge scores the application
answers). Every request goes through the runner and the run's request cache; log-likelihood scores
have their own cache (``loglik-cache.sqlite``), so a re-run of a finished evaluation asks nothing.
Per-question logs land in ``eval/predictions/<model>/``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from humanllm.curation.common import run_async
from humanllm.evaluation.benchmark import Benchmark, EvalContext, Scored, benchmarks
from humanllm.evaluation.loglik import LoglikCache
from humanllm.evaluation.models import describe, open_backend, resolve
from humanllm.evaluation.report import write_report
from humanllm.evaluation.results import EvalResults, ModelInfo, fill_improvements
from humanllm.llm.cache import RequestCache
from humanllm.runfolder import atomic_write_text
from humanllm.stage import StageContext, StageResult


def stage_version() -> str:
    """Changes whenever one of the registered benchmarks' prompt templates does."""
    return "-".join(t.digest[:6] for b in benchmarks() for t in b.templates())


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def configured(ctx: EvalContext) -> list[Benchmark]:
    """The registered benchmarks with a section in ``evaluate:`` (the built-ins always have one)."""
    return [b for b in benchmarks() if b.config(ctx) is not None]


def record(
    ctx: EvalContext,
    logs: dict[tuple[str, str], list[dict[str, Any]]],
    b: Benchmark,
    model: str,
    scored: Scored,
) -> None:
    ctx.results.add_rows(b.name, scored.rows)
    for stem, rows in scored.logs.items():
        logs.setdefault((model, stem), []).extend(rows)


def run_evaluate(ctx: StageContext) -> StageResult:
    ecfg = ctx.cfg.evaluate
    root = ctx.run.root
    out_dir = ctx.run.stage_dir("eval")
    models = [
        (s, resolve(s.backend, ctx.cfg.llm, root, f"evaluate model {s.name!r}"))
        for s in ecfg.models
    ]
    results = EvalResults(run_dir=str(root), models=[])
    logs: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (model, file stem) -> rows
    data: dict[str, Any] = {}
    active: list[Benchmark] = []

    async def main() -> None:
        ectx = EvalContext(
            ecfg=ecfg,
            llm=ctx.cfg.llm,
            root=root,
            out_dir=out_dir,
            genome_dir=ctx.run.genome_dir,
            cache=RequestCache.in_run(root),
            llcache=LoglikCache.in_run(root),
            runner_cfg=ctx.cfg.llm.runner,
            results=results,
        )
        try:
            active.extend(configured(ectx))
            for b in active:
                data[b.name] = b.load(ectx)
            for b in active:
                if data[b.name] is not None:
                    data[b.name] = await b.prepare(ectx, data[b.name])
            for spec, bcfg in models:
                ctx.console.print(f"  evaluating {spec.name} ({describe(bcfg)})")
                backend = open_backend(bcfg, f"evaluate model {spec.name!r}")
                try:
                    ectx.results.models.append(
                        ModelInfo(
                            name=spec.name,
                            backend=describe(bcfg),
                            model_id=backend.model_id,
                            base=spec.base,
                        )
                    )
                    for b in active:
                        if data[b.name] is not None:
                            answers = await b.ask(ectx, data[b.name], spec.name, backend)
                            record(
                                ectx,
                                logs,
                                b,
                                spec.name,
                                b.score(ectx, data[b.name], spec.name, answers),
                            )
                finally:
                    await backend.aclose()
            for b in active:
                if data[b.name] is not None:
                    for model, scored in await b.finish(ectx, data[b.name]):
                        record(ectx, logs, b, model, scored)
        finally:
            ectx.llcache.close()
            ectx.cache.close()

    run_async(main)
    res = results
    fill_improvements(res)
    res.write(out_dir / "results.json")
    for (model, name), rows in logs.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        atomic_write_text(text, out_dir / "predictions" / slug(model) / f"{name}.jsonl")
    files = write_report(res, out_dir)
    result = StageResult()
    result.extra["models"] = [m.name for m in res.models]
    for b in active:
        result.extra.update(b.summary(data.get(b.name)))
    result.extra["report"] = [str(p.relative_to(out_dir)) for p in files]
    return result
