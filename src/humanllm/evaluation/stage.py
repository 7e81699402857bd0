"""Stage ``evaluate`` (§4): every configured model on the in-domain questions, ToMBench,
MotiveBench and the application studies; ``eval/results.json``, ``report.md``, ``figures/``.

Order of work: the in-domain questions are built first, once (``eval/mc/<task>.jsonl``), then
each model in turn is opened, asked everything and closed, then the judge scores the application
answers. Every request goes through the runner and the run's request cache; log-likelihood scores
have their own cache (``loglik-cache.sqlite``), so a re-run of a finished evaluation asks nothing.
Per-question logs land in ``eval/predictions/<model>/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from humanllm.curation.common import run_async
from humanllm.evaluation import indomain, judge, scores
from humanllm.evaluation import motivebench as mb
from humanllm.evaluation import tombench as tb
from humanllm.evaluation.asking import Reply
from humanllm.evaluation.config import EvaluateConfig
from humanllm.evaluation.loglik import LoglikCache
from humanllm.evaluation.mc import (
    MCQuestion,
    load_questions,
    save_questions,
    score_letters,
    score_loglik,
)
from humanllm.evaluation.models import describe, open_backend, resolve
from humanllm.evaluation.report import write_report
from humanllm.evaluation.results import EvalResults, InDomainSet, ModelInfo, fill_improvements
from humanllm.llm.base import Backend, Sampling, Scorer
from humanllm.llm.cache import RequestCache
from humanllm.llm.prompts import package_template
from humanllm.runfolder import atomic_write_text
from humanllm.stage import StageContext, StageError, StageResult

TEMPLATES = (
    "mc.v1.txt",
    "tombench_en.v1.txt",
    "tombench_zh.v1.txt",
    "motivebench.v1.txt",
    "judge_profile.v1.txt",
    "judge_explainer.v1.txt",
    "judge_writing.v1.txt",
)


def stage_version() -> str:
    """Changes whenever one of the stage's prompt templates does."""
    return "-".join(
        package_template("humanllm.evaluation", f"prompts/{t}").digest[:6] for t in TEMPLATES
    )


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


@dataclass
class Inputs:
    """What every model is asked, read before any model is loaded."""

    tom: list[tb.TomItem] = field(default_factory=list)
    motive: list[mb.MotiveQuestion] = field(default_factory=list)
    apps: dict[str, list[judge.Sample]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


def read_inputs(ecfg: EvaluateConfig, tasks_dir: Path) -> Inputs:
    inp = Inputs()
    t = ecfg.tombench
    if t.path is None:
        inp.notices.append(
            "ToMBench skipped: set evaluate.tombench.path to the data/ folder of ToMBench "
            "(https://github.com/zhchen18/ToMBench, arXiv:2402.15052)"
        )
    else:
        try:
            items, skipped = tb.load(t.path, t.language)
        except tb.TomBenchError as e:
            raise StageError(f"evaluate.tombench: {e}") from e
        inp.tom = tb.select(items, t.limit, ecfg.seed)
        if skipped:
            inp.notices.append(
                f"ToMBench: {len(skipped)} items could not be asked, e.g. {next(iter(skipped.items()))}"
            )
    m = ecfg.motivebench
    if m.path is None:
        inp.notices.append(
            "MotiveBench skipped: set evaluate.motivebench.path to the folder holding its Amazon/, "
            "Blog/ and Persona/ question files (the official release of MotiveBench, arXiv:2506.13065)"
        )
    else:
        try:
            inp.motive, problems = mb.load(m.path, m.limit)
        except mb.MotiveBenchError as e:
            raise StageError(f"evaluate.motivebench: {e}") from e
        if problems:
            inp.notices.append(
                f"MotiveBench: {len(problems)} questions unusable, e.g. {problems[0]}"
            )
    if ecfg.judge.samples > 0:
        for app in judge.APPLICATIONS:
            inp.apps[app.name] = judge.samples(tasks_dir, app, ecfg.judge.samples, ecfg.seed)
            if not inp.apps[app.name]:
                inp.notices.append(f"application {app.name}: no {app.task} test rows, skipped")
    return inp


@dataclass
class Collected:
    results: EvalResults
    logs: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (model, file)
    answers: dict[str, dict[str, dict[str, Reply]]] = field(
        default_factory=dict
    )  # app -> model -> id


async def evaluate_model(
    name: str,
    backend: Backend,
    ecfg: EvaluateConfig,
    questions: list[MCQuestion],
    inp: Inputs,
    out: Collected,
    cache: RequestCache,
    llcache: LoglikCache,
    runner_cfg: Any,
) -> None:
    infer = Sampling(
        temperature=ecfg.temperature,
        top_p=ecfg.top_p,
        max_tokens=ecfg.in_domain.answer_max_tokens,
        seed=ecfg.seed,
    )
    res = out.results
    if questions and "letter" in ecfg.scoring:
        preds = await score_letters(
            questions, backend=backend, cache=cache, sampling=infer, runner_cfg=runner_cfg
        )
        res.in_domain.append(scores.in_domain(name, "letter", questions, preds))
        out.logs[(name, "in_domain_letter")] = [p.model_dump() for p in preds]
    if questions and "loglik" in ecfg.scoring:
        if isinstance(backend, Scorer):
            preds = score_loglik(
                questions, scorer=backend, model_id=backend.model_id, cache=llcache
            )
            res.in_domain.append(scores.in_domain(name, "loglik", questions, preds))
            out.logs[(name, "in_domain_loglik")] = [p.model_dump() for p in preds]
        else:
            res.notices.append(
                f"{name}: loglik scoring needs a transformers backend; letter mode only"
            )
    if inp.tom:
        t = ecfg.tombench
        graded = await tb.run(
            inp.tom,
            language=t.language,
            tries=t.tries,
            seed=ecfg.seed,
            backend=backend,
            cache=cache,
            sampling=infer,
            runner_cfg=runner_cfg,
        )
        res.tombench.append(scores.tombench(name, t.language, t.tries, graded))
        out.logs[(name, "tombench")] = scores.tombench_log(graded)
    if inp.motive:
        m = ecfg.motivebench
        zero = Sampling(
            temperature=m.temperature,
            top_p=1.0,
            max_tokens=ecfg.in_domain.answer_max_tokens,
            seed=ecfg.seed,
        )
        answered = await mb.run(
            inp.motive,
            orders=m.orders,
            backend=backend,
            cache=cache,
            sampling=zero,
            runner_cfg=runner_cfg,
        )
        res.motivebench.append(scores.motivebench(name, m.orders, answered))
        out.logs[(name, "motivebench")] = scores.motivebench_log(answered)
    gen = Sampling(
        temperature=ecfg.temperature,
        top_p=ecfg.top_p,
        max_tokens=ecfg.judge.answer_max_tokens,
        seed=ecfg.seed,
    )
    for app in judge.APPLICATIONS:
        if inp.apps.get(app.name):
            replies = await judge.answer(
                app,
                inp.apps[app.name],
                backend=backend,
                cache=cache,
                sampling=gen,
                runner_cfg=runner_cfg,
            )
            out.answers.setdefault(app.name, {})[name] = replies


def run_evaluate(ctx: StageContext) -> StageResult:
    ecfg = ctx.cfg.evaluate
    root = ctx.run.root
    out_dir = ctx.run.stage_dir("eval")
    tasks_dir, runner_cfg = root / "tasks", ctx.cfg.llm.runner
    models = [
        (s, resolve(s.backend, ctx.cfg.llm, root, f"evaluate model {s.name!r}"))
        for s in ecfg.models
    ]
    writers = [
        resolve(d.backend, ctx.cfg.llm, root, "evaluate.distractor_models")
        for d in ecfg.distractor_models
    ]
    judge_cfg = resolve(ecfg.judge.backend, ctx.cfg.llm, root, "evaluate.judge")
    inp = read_inputs(ecfg, tasks_dir)
    has_tasks = any((tasks_dir / t / "test.jsonl").is_file() for t in ecfg.in_domain.tasks)
    if not has_tasks:
        inp.notices.append(f"in-domain evaluation skipped: no test split under {tasks_dir}")
    out = Collected(EvalResults(run_dir=str(root), models=[], notices=list(inp.notices)))
    questions: list[MCQuestion] = []

    async def main() -> None:
        nonlocal questions
        cache = RequestCache.in_run(root)
        llcache = LoglikCache.in_run(root)
        try:
            if has_tasks:
                questions = await build_set(ctx, ecfg, writers, out, cache, runner_cfg)
            for spec, bcfg in models:
                ctx.console.print(f"  evaluating {spec.name} ({describe(bcfg)})")
                backend = open_backend(bcfg, f"evaluate model {spec.name!r}")
                try:
                    out.results.models.append(
                        ModelInfo(
                            name=spec.name,
                            backend=describe(bcfg),
                            model_id=backend.model_id,
                            base=spec.base,
                        )
                    )
                    await evaluate_model(
                        spec.name, backend, ecfg, questions, inp, out, cache, llcache, runner_cfg
                    )
                finally:
                    await backend.aclose()
            if out.answers:
                await judge_all(ecfg, judge_cfg, inp, out, cache, runner_cfg)
        finally:
            llcache.close()
            cache.close()

    run_async(main)
    res = out.results
    fill_improvements(res)
    res.write(out_dir / "results.json")
    for (model, name), rows in out.logs.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        atomic_write_text(text, out_dir / "predictions" / slug(model) / f"{name}.jsonl")
    files = write_report(res, out_dir)
    result = StageResult()
    result.extra.update(
        models=[m.name for m in res.models],
        in_domain_questions=len(questions),
        tombench_items=len(inp.tom),
        motivebench_questions=len(inp.motive),
        application_samples={k: len(v) for k, v in inp.apps.items()},
        report=[str(p.relative_to(out_dir)) for p in files],
    )
    return result


async def build_set(
    ctx: StageContext,
    ecfg: EvaluateConfig,
    writers: list[Any],
    out: Collected,
    cache: RequestCache,
    runner_cfg: Any,
) -> list[MCQuestion]:
    """Build the in-domain questions once, save them to ``eval/mc/`` and read them back."""
    opened: dict[str, Backend] = {}
    backends = []
    try:
        for k, w in enumerate(writers):
            key = w.model_dump_json()
            if key not in opened:
                opened[key] = open_backend(w, f"evaluate.distractor_models[{k}]")
            backends.append(opened[key])
        built = await indomain.build_questions(
            ctx.run.root / "tasks",
            ctx.run.genome_dir,
            ecfg,
            distractor_backends=backends,
            cache=cache,
            runner_cfg=runner_cfg,
            describe=describe,
        )
    finally:
        for b in opened.values():
            await b.aclose()
    mc_dir = ctx.run.stage_dir("eval") / "mc"
    counts = save_questions(mc_dir, built.questions)
    reasons: dict[str, int] = {}
    for why in built.dropped.values():
        reasons[why] = reasons.get(why, 0) + 1
    if built.dropped:
        atomic_write_text(json.dumps(built.dropped, indent=1) + "\n", mc_dir / "_dropped.json")
    writers_used = sorted(
        {o for q in built.questions for o in q.origins if o != "real" and not o.startswith("pool:")}
    )
    out.results.in_domain_set = InDomainSet(
        questions={t: counts.get(t, 0) for t in ecfg.in_domain.tasks},
        test_rows=built.available,
        dropped=reasons,
        distractor_writers=writers_used,
    )
    return load_questions(mc_dir)


async def judge_all(
    ecfg: EvaluateConfig,
    judge_cfg: Any,
    inp: Inputs,
    out: Collected,
    cache: RequestCache,
    runner_cfg: Any,
) -> None:
    """The judge scores every model's application answers (one backend for all)."""
    backend = open_backend(judge_cfg, "evaluate.judge")
    out.results.judge = describe(judge_cfg)
    j = ecfg.judge
    sampling = Sampling(temperature=j.temperature, max_tokens=j.max_tokens, seed=ecfg.seed)
    try:
        for app in judge.APPLICATIONS:
            answers = out.answers.get(app.name)
            if not answers:
                continue
            judged = await judge.judge(
                app,
                inp.apps[app.name],
                answers,
                backend=backend,
                cache=cache,
                sampling=sampling,
                runner_cfg=runner_cfg,
            )
            for model, per in judged.items():
                out.results.applications.append(scores.application(app, model, per))
                log = out.logs.setdefault((model, "applications"), [])
                log.extend(scores.application_log(app, per))
    finally:
        await backend.aclose()
