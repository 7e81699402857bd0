"""MotiveBench (§4.3, Table 2) as a benchmark: the questions of ``evaluate.motivebench.path``,
each asked under fixed option orders at temperature 0 (:mod:`humanllm.evaluation.motivebench`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from humanllm.evaluation import motivebench as mb
from humanllm.evaluation.benchmark import (
    BaseBenchmark,
    EvalContext,
    Scored,
    read_or_skip,
    register_benchmark,
)
from humanllm.evaluation.results import EvalResults, MotiveBenchScores, mean
from humanllm.evaluation.tables import Table, fmt
from humanllm.llm.base import Backend
from humanllm.llm.prompts import PromptTemplate


class MotiveBench(BaseBenchmark):
    name = "motivebench"
    config_model = mb.MotiveBenchConfig
    report_order = 2.0

    def templates(self) -> Sequence[PromptTemplate]:
        return (mb.template(),)

    def load(self, ctx: EvalContext) -> list[mb.MotiveQuestion] | None:
        m: mb.MotiveBenchConfig = self.config(ctx)
        got = read_or_skip(
            ctx,
            self.name,
            m.path,
            "MotiveBench skipped: set evaluate.motivebench.path to the folder holding its "
            "Amazon/, Blog/ and Persona/ question files (the official release of MotiveBench, "
            "arXiv:2506.13065)",
            lambda path: mb.load(path, m.limit),
            mb.MotiveBenchError,
        )
        if got is None:
            return None
        questions, problems = got
        if problems:
            ctx.notice(f"MotiveBench: {len(problems)} questions unusable, e.g. {problems[0]}")
        return questions or None

    async def ask(
        self, ctx: EvalContext, data: list[mb.MotiveQuestion], model: str, backend: Backend
    ) -> list[mb.Answered]:
        m: mb.MotiveBenchConfig = self.config(ctx)
        zero = ctx.sampling(
            ctx.ecfg.in_domain.answer_max_tokens, temperature=m.temperature, top_p=1.0
        )
        return await mb.run(
            data,
            orders=m.orders,
            backend=backend,
            cache=ctx.cache,
            sampling=zero,
            runner_cfg=ctx.runner_cfg,
        )

    def score(self, ctx: EvalContext, data: Any, model: str, answers: list[mb.Answered]) -> Scored:
        m: mb.MotiveBenchConfig = self.config(ctx)
        return Scored(
            [results_row(model, m.orders, answers)],
            {"motivebench": log(answers)},
        )

    def summary(self, data: list[mb.MotiveQuestion] | None) -> dict[str, Any]:
        return {"motivebench_questions": len(data or [])}

    def tables(self, res: EvalResults) -> list[Table]:
        if not res.motivebench:
            return []
        subsets = list(mb.SUBSETS.values())
        return [
            Table(
                "table2_motivebench",
                f"Table 2: MotiveBench accuracy, {res.motivebench[0].orders} option orders",
                "Table 2: MotiveBench accuracy",
                subsets,
                [
                    (r.model, [r.subsets.get(s) for s in subsets], r.average, r.improvement_pct)
                    for r in res.motivebench
                ],
                4,
                "accuracy",
            )
        ]

    def appendix(self, res: EvalResults) -> list[str]:
        if not res.motivebench:
            return []
        names = [name for *_, name in mb.TYPES]
        lines = [
            "### MotiveBench by question type",
            "",
            "| Model | " + " | ".join(names) + " |",
            "|" + "---|" * (len(names) + 1),
        ]
        for r in res.motivebench:
            lines.append(
                f"| {r.model} | "
                + " | ".join(fmt(r.question_types.get(n), 4, None) for n in names)
                + " |"
            )
        return [*lines, ""]


def results_row(model: str, orders: int, answered: Sequence[mb.Answered]) -> MotiveBenchScores:
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


def log(answered: Sequence[mb.Answered]) -> list[dict[str, Any]]:
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


register_benchmark(MotiveBench())
