"""ToMBench (§4.3, Table 3) as a benchmark: the items of ``evaluate.tombench.path``, each asked
``tries`` times in shuffled orders (:mod:`humanllm.evaluation.tombench`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from humanllm.evaluation import tombench as tb
from humanllm.evaluation.benchmark import (
    BaseBenchmark,
    EvalContext,
    Scored,
    read_or_skip,
    register_benchmark,
)
from humanllm.evaluation.results import CategoryScore, EvalResults, TomBenchScores, mean
from humanllm.evaluation.tables import Table
from humanllm.llm.base import Backend
from humanllm.llm.prompts import PromptTemplate


class TomBench(BaseBenchmark):
    name = "tombench"
    config_model = tb.TomBenchConfig
    report_order = 3.0

    def templates(self) -> Sequence[PromptTemplate]:
        return (tb.template("en"), tb.template("zh"))

    def load(self, ctx: EvalContext) -> list[tb.TomItem] | None:
        t: tb.TomBenchConfig = self.config(ctx)
        got = read_or_skip(
            ctx,
            self.name,
            t.path,
            "ToMBench skipped: set evaluate.tombench.path to the data/ folder of ToMBench "
            "(https://github.com/zhchen18/ToMBench, arXiv:2402.15052)",
            lambda path: tb.load(path, t.language),
            tb.TomBenchError,
        )
        if got is None:
            return None
        items, skipped = got
        if skipped:
            ctx.notice(
                f"ToMBench: {len(skipped)} items could not be asked, e.g. {next(iter(skipped.items()))}"
            )
        return tb.select(items, t.limit, ctx.ecfg.seed) or None

    async def ask(
        self, ctx: EvalContext, data: list[tb.TomItem], model: str, backend: Backend
    ) -> list[tb.Graded]:
        t: tb.TomBenchConfig = self.config(ctx)
        return await tb.run(
            data,
            language=t.language,
            tries=t.tries,
            seed=ctx.ecfg.seed,
            backend=backend,
            cache=ctx.cache,
            sampling=ctx.sampling(ctx.ecfg.in_domain.answer_max_tokens),
            runner_cfg=ctx.runner_cfg,
        )

    def score(self, ctx: EvalContext, data: Any, model: str, answers: list[tb.Graded]) -> Scored:
        t: tb.TomBenchConfig = self.config(ctx)
        return Scored(
            [results_row(model, t.language, t.tries, answers)],
            {"tombench": log(answers)},
        )

    def summary(self, data: list[tb.TomItem] | None) -> dict[str, Any]:
        return {"tombench_items": len(data or [])}

    def tables(self, res: EvalResults) -> list[Table]:
        if not res.tombench:
            return []
        t0, cats = res.tombench[0], tb.CATEGORIES
        return [
            Table(
                "table3_tombench",
                f"Table 3: ToMBench accuracy ({t0.language}, {t0.tries} tries, majority vote); NLC: Non-Literal Communication",
                "Table 3: ToMBench accuracy",
                [tb.SHORT.get(c, c) for c in cats],
                [
                    (
                        r.model,
                        [r.categories[c].accuracy if c in r.categories else None for c in cats],
                        r.average,
                        r.improvement_pct,
                    )
                    for r in res.tombench
                ],
                4,
                "accuracy",
            )
        ]


def results_row(
    model: str, language: str, tries: int, graded: Sequence[tb.Graded]
) -> TomBenchScores:
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


def log(graded: Sequence[tb.Graded]) -> list[dict[str, Any]]:
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


register_benchmark(TomBench())
