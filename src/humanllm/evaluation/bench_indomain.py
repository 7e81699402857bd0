"""The in-domain multiple choice (§4.2, Table 1) as a benchmark: the questions are built once from
the tasks' test split (:mod:`humanllm.evaluation.indomain`, saved to ``eval/mc/``), then every
model is asked in each ``evaluate.scoring`` mode."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from humanllm.evaluation import config, indomain
from humanllm.evaluation.benchmark import BaseBenchmark, EvalContext, Scored, register_benchmark
from humanllm.evaluation.mc import (
    MCQuestion,
    Prediction,
    load_questions,
    save_questions,
    score_letters,
    score_loglik,
)
from humanllm.evaluation.mc import template as mc_template
from humanllm.evaluation.models import describe, open_backend, resolve
from humanllm.evaluation.results import EvalResults, InDomainScores, InDomainSet, TaskScore, mean
from humanllm.evaluation.tables import Table
from humanllm.llm.base import Backend, Scorer
from humanllm.llm.prompts import PromptTemplate
from humanllm.runfolder import atomic_write_text
from humanllm.tasks.registry import tasks


def label(task: str) -> str:
    """A task's Table-1 column heading (its ``label`` in the task registry)."""
    known = {t.name: t.label for t in tasks()}
    return known.get(task, task)


SCORING = {
    "letter": "the model names a letter (the paper's protocol)",
    "loglik": "the option with the highest log-likelihood per byte as the reply to the task",
}


@dataclass
class InDomain:
    writers: list[Any]  # distractor writer configs, resolved
    questions: list[MCQuestion]


class InDomainMC(BaseBenchmark):
    name = "in_domain"
    report_order = 1.0
    improvement = ("average_pct", ("scoring",))

    def templates(self) -> Sequence[PromptTemplate]:
        return (mc_template(),)

    def load(self, ctx: EvalContext) -> InDomain:
        writers = [
            resolve(d.backend, ctx.llm, ctx.root, "evaluate.distractor_models")
            for d in ctx.ecfg.distractor_models
        ]
        return InDomain(writers, [])

    async def prepare(self, ctx: EvalContext, data: InDomain) -> InDomain | None:
        tasks = ctx.ecfg.in_domain.tasks
        if not any((ctx.tasks_dir / t / "test.jsonl").is_file() for t in tasks):
            ctx.notice(f"in-domain evaluation skipped: no test split under {ctx.tasks_dir}")
            return None
        data.questions = await build_set(ctx, data.writers)
        return data

    async def ask(
        self, ctx: EvalContext, data: InDomain, model: str, backend: Backend
    ) -> dict[str, list[Prediction]]:
        ecfg, questions = ctx.ecfg, data.questions
        preds: dict[str, list[Prediction]] = {}
        if questions and "letter" in ecfg.scoring:
            infer = ctx.sampling(ecfg.in_domain.answer_max_tokens)
            preds["letter"] = await score_letters(
                questions,
                backend=backend,
                cache=ctx.cache,
                sampling=infer,
                runner_cfg=ctx.runner_cfg,
            )
        if questions and "loglik" in ecfg.scoring:
            if isinstance(backend, Scorer):
                preds["loglik"] = score_loglik(
                    questions, scorer=backend, model_id=backend.model_id, cache=ctx.llcache
                )
            else:
                ctx.notice(
                    f"{model}: loglik scoring needs a transformers backend; letter mode only"
                )
        return preds

    def score(
        self, ctx: EvalContext, data: InDomain, model: str, answers: dict[str, list[Prediction]]
    ) -> Scored:
        out = Scored()
        for mode, preds in answers.items():
            out.rows.append(results_row(model, mode, data.questions, preds))
            out.logs[f"in_domain_{mode}"] = [p.model_dump() for p in preds]
        return out

    def summary(self, data: InDomain | None) -> dict[str, Any]:
        return {"in_domain_questions": len(data.questions) if data else 0}

    def tables(self, res: EvalResults) -> list[Table]:
        out = []
        for mode in ("letter", "loglik"):
            rows_ = [r for r in res.in_domain if r.scoring == mode]
            if not rows_:
                continue
            present = {t for r in rows_ for t in r.tasks}
            paper = config.IN_DOMAIN_TASKS  # Table 1's column order
            cols = [t for t in paper if t in present] + sorted(present - set(paper))
            out.append(
                Table(
                    f"table1_in_domain_{mode}",
                    f"Table 1: in-domain evaluation (%), {SCORING[mode]}",
                    f"Table 1: in-domain accuracy (%), {mode} scoring",
                    [label(t) for t in cols],
                    [
                        (
                            r.model,
                            [r.tasks[t].accuracy_pct if t in r.tasks else None for t in cols],
                            r.average_pct,
                            r.improvement_pct,
                        )
                        for r in rows_
                    ],
                    2,
                    "accuracy (%)",
                    notes=_notes(res, mode),
                )
            )
        return out

    def appendix(self, res: EvalResults) -> list[str]:
        s = res.in_domain_set
        if s is None:
            return []
        lines = ["### In-domain question set", ""]
        lines += [
            f"- {label(k)}: {v} questions of {s.test_rows.get(k, 0)} test rows"
            for k, v in s.questions.items()
        ]
        lines += [f"- dropped ({n}): {why}" for why, n in s.dropped.items()]
        lines += [f"- distractor writers: {', '.join(s.distractor_writers) or '–'}", ""]
        return lines


def _notes(res: EvalResults, mode: str) -> list[str]:
    """Chance level per task, and replies counted wrong because they named no option."""
    rows = [r for r in res.in_domain if r.scoring == mode]
    chance: dict[str, float] = {}
    for r in rows:
        for t, s in r.tasks.items():
            chance.setdefault(t, s.chance_pct)
    out = ["Chance: " + ", ".join(f"{label(t)} {v:.2f}" for t, v in chance.items()) + "."]
    bad = [
        f"{r.model} {sum(s.unparseable for s in r.tasks.values())} unparseable, "
        f"{sum(s.errors for s in r.tasks.values())} without reply"
        for r in rows
        if any(s.unparseable or s.errors for s in r.tasks.values())
    ]
    if bad:
        out.append("Counted wrong: " + "; ".join(bad) + ".")
    return [*out, ""]


async def build_set(ctx: EvalContext, writers: list[Any]) -> list[MCQuestion]:
    """Build the in-domain questions once, save them to ``eval/mc/`` and read them back."""
    ecfg = ctx.ecfg
    opened: dict[str, Backend] = {}
    backends = []
    try:
        for k, w in enumerate(writers):
            key = w.model_dump_json()
            if key not in opened:
                opened[key] = open_backend(w, f"evaluate.distractor_models[{k}]")
            backends.append(opened[key])
        built = await indomain.build_questions(
            ctx.tasks_dir,
            ctx.genome_dir,
            ecfg,
            distractor_backends=backends,
            cache=ctx.cache,
            runner_cfg=ctx.runner_cfg,
            describe=describe,
        )
    finally:
        for b in opened.values():
            await b.aclose()
    mc_dir = ctx.out_dir / "mc"
    counts = save_questions(mc_dir, built.questions)
    reasons: dict[str, int] = {}
    for why in built.dropped.values():
        reasons[why] = reasons.get(why, 0) + 1
    if built.dropped:
        atomic_write_text(json.dumps(built.dropped, indent=1) + "\n", mc_dir / "_dropped.json")
    writers_used = sorted(
        {o for q in built.questions for o in q.origins if o != "real" and not o.startswith("pool:")}
    )
    ctx.results.in_domain_set = InDomainSet(
        questions={t: counts.get(t, 0) for t in ecfg.in_domain.tasks},
        test_rows=built.available,
        dropped=reasons,
        distractor_writers=writers_used,
    )
    return load_questions(mc_dir)


def results_row(
    model: str, scoring: str, questions: Sequence[MCQuestion], preds: Sequence[Prediction]
) -> InDomainScores:
    by_id = {p.id: p for p in preds}
    tasks: dict[str, TaskScore] = {}
    for task in dict.fromkeys(q.task for q in questions):
        qs = [q for q in questions if q.task == task]
        ps = [by_id[q.id] for q in qs]
        correct = sum(p.correct for p in ps)
        n_opts = [len(q.options) for q in qs]
        tasks[task] = TaskScore(
            n=len(qs),
            correct=correct,
            accuracy_pct=100.0 * correct / len(qs),
            unparseable=sum(p.choice is None and p.error is None for p in ps),
            errors=sum(p.error is not None for p in ps),
            n_options=sum(n_opts) / len(n_opts),
            chance_pct=100.0 * sum(1 / k for k in n_opts) / len(n_opts),
        )
    return InDomainScores(
        model=model,
        scoring=scoring,  # type: ignore[arg-type]
        tasks=tasks,
        average_pct=mean([t.accuracy_pct for t in tasks.values()]),
    )


register_benchmark(InDomainMC())
