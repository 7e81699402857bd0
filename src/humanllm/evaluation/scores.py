"""From one model's answers to the score rows of ``results.json``, and to prediction logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from humanllm.evaluation import motivebench as mb
from humanllm.evaluation import tombench as tb
from humanllm.evaluation.judge import Application, Judged
from humanllm.evaluation.mc import MCQuestion, Prediction
from humanllm.evaluation.results import (
    ApplicationScores,
    CategoryScore,
    InDomainScores,
    MotiveBenchScores,
    TaskScore,
    TomBenchScores,
    mean,
)


def in_domain(
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


def tombench(model: str, language: str, tries: int, graded: Sequence[tb.Graded]) -> TomBenchScores:
    cats: dict[str, CategoryScore] = {}
    for c in tb.CATEGORIES:
        mine = [g for g in graded if g.item.category == c]
        if mine:
            right = sum(g.correct for g in mine)
            cats[c] = CategoryScore(n=len(mine), correct=right, accuracy=right / len(mine))
    return TomBenchScores(
        model=model,
        language=language,  # type: ignore[arg-type]
        tries=tries,
        categories=cats,
        average=mean([c.accuracy for c in cats.values()]),
        two_option_items=sum(len(g.item.options) == 2 for g in graded),
        unparseable_replies=sum(c is None for g in graded for c in g.choices),
    )


def motivebench(model: str, orders: int, answered: Sequence[mb.Answered]) -> MotiveBenchScores:
    def acc(rows: Sequence[mb.Answered]) -> float:
        return sum(a.correct for a in rows) / len(rows)

    subsets = [s for s in mb.SUBSETS.values() if any(a.question.subset == s for a in answered)]
    types = [name for *_, name in mb.TYPES if any(a.question.qtype == name for a in answered)]
    sub_acc = {s: acc([a for a in answered if a.question.subset == s]) for s in subsets}
    return MotiveBenchScores(
        model=model,
        orders=orders,
        subsets=sub_acc,
        question_types={t: acc([a for a in answered if a.question.qtype == t]) for t in types},
        cells=mb.accuracy(answered),
        questions={
            s: len({a.question.id for a in answered if a.question.subset == s}) for s in subsets
        },
        average=mean(list(sub_acc.values())),
        unparseable_replies=sum(a.choice is None for a in answered),
    )


def application(app: Application, model: str, judged: Mapping[str, Judged]) -> ApplicationScores:
    scored = [j for j in judged.values() if j.scores is not None]
    metrics = (
        {m: sum(j.scores[m] for j in scored if j.scores) / len(scored) for m in app.labels}
        if scored
        else {}
    )
    return ApplicationScores(
        application=app.name,
        model=model,
        n=len(scored),
        metrics=metrics,
        average=mean(list(metrics.values())),
        empty_answers=sum(not j.answer for j in judged.values()),
        judge_failures=sum(j.scores is None for j in judged.values()),
    )


# --- prediction logs (eval/predictions/<model>/*.jsonl) ------------------------------------------


def tombench_log(graded: Sequence[tb.Graded]) -> list[dict[str, Any]]:
    return [
        {
            "id": g.item.id,
            "category": g.item.category,
            "ability": g.item.ability,
            "n_options": len(g.item.options),
            "answer": g.item.answer,
            "choices": g.choices,
            "voted": g.voted,
            "correct": g.correct,
            "raw": g.raws,
        }
        for g in graded
    ]


def motivebench_log(answered: Sequence[mb.Answered]) -> list[dict[str, Any]]:
    return [
        {
            "id": a.question.id,
            "order": a.order,
            "answer": a.question.answer,
            "choice": a.choice,
            "correct": a.correct,
            "raw": a.raw,
        }
        for a in answered
    ]


def application_log(app: Application, judged: Mapping[str, Judged]) -> list[dict[str, Any]]:
    return [
        {
            "application": app.name,
            "id": sid,
            "answer": j.answer,
            "scores": j.scores,
            "rationales": j.rationales,
            "error": j.error,
        }
        for sid, j in judged.items()
    ]
