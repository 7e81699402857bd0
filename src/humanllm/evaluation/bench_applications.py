"""The application studies (§4.5, Tables B2-B4) as a benchmark: every model answers each
application's sample of test rows, then one judge scores all the answers
(:mod:`humanllm.evaluation.judge`). Its settings are ``evaluate.judge``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from humanllm.evaluation import judge
from humanllm.evaluation.asking import Reply
from humanllm.evaluation.benchmark import BaseBenchmark, EvalContext, Scored, register_benchmark
from humanllm.evaluation.config import JudgeConfig
from humanllm.evaluation.judge import Application, Judged
from humanllm.evaluation.models import describe, open_backend, resolve
from humanllm.evaluation.results import ApplicationScores, EvalResults, mean
from humanllm.evaluation.tables import Table
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.prompts import PromptTemplate


@dataclass
class Apps:
    judge_cfg: Any  # the judge's backend config, resolved
    samples: dict[str, list[judge.Sample]]  # application -> its rows
    answers: dict[str, dict[str, dict[str, Reply]]] = field(default_factory=dict)  # app, model, id


class Applications(BaseBenchmark):
    name = "applications"
    config_model = JudgeConfig
    report_order = 10.0
    improvement = ("average", ("application",))

    def config(self, ctx: EvalContext) -> JudgeConfig:
        return ctx.ecfg.judge

    def templates(self) -> Sequence[PromptTemplate]:
        return tuple(judge.template(app) for app in judge.applications())

    def load(self, ctx: EvalContext) -> Apps:
        j = self.config(ctx)
        data = Apps(resolve(j.backend, ctx.llm, ctx.root, "evaluate.judge"), {})
        if j.samples > 0:
            for app in judge.applications():
                rows = judge.samples(ctx.tasks_dir, app, j.samples, ctx.ecfg.seed)
                data.samples[app.name] = rows
                if not rows:
                    ctx.notice(f"application {app.name}: no {app.task} test rows, skipped")
        return data

    async def ask(
        self, ctx: EvalContext, data: Apps, model: str, backend: Backend
    ) -> dict[str, dict[str, Reply]]:
        ecfg = ctx.ecfg
        gen = ctx.sampling(ecfg.judge.answer_max_tokens)
        out = {}
        for app in judge.applications():
            if data.samples.get(app.name):
                out[app.name] = await judge.answer(
                    app,
                    data.samples[app.name],
                    backend=backend,
                    cache=ctx.cache,
                    sampling=gen,
                    runner_cfg=ctx.runner_cfg,
                )
        return out

    def score(
        self, ctx: EvalContext, data: Apps, model: str, answers: dict[str, dict[str, Reply]]
    ) -> Scored:
        for app, replies in answers.items():  # scored by the judge once every model answered
            data.answers.setdefault(app, {})[model] = replies
        return Scored()

    async def finish(self, ctx: EvalContext, data: Apps) -> list[tuple[str, Scored]]:
        """The judge scores every model's answers (one backend for all)."""
        if not data.answers:
            return []
        backend = open_backend(data.judge_cfg, "evaluate.judge")
        ctx.results.judge = describe(data.judge_cfg)
        j = ctx.ecfg.judge
        sampling = Sampling(temperature=j.temperature, max_tokens=j.max_tokens, seed=ctx.ecfg.seed)
        out: list[tuple[str, Scored]] = []
        try:
            for app in judge.applications():
                answers = data.answers.get(app.name)
                if not answers:
                    continue
                judged = await judge.judge(
                    app,
                    data.samples[app.name],
                    answers,
                    backend=backend,
                    cache=ctx.cache,
                    sampling=sampling,
                    runner_cfg=ctx.runner_cfg,
                )
                for model, per in judged.items():
                    row = results_row(app, model, per)
                    out.append((model, Scored([row], {"applications": log(app, per)})))
        finally:
            await backend.aclose()
        return out

    def summary(self, data: Apps | None) -> dict[str, Any]:
        samples = data.samples if data else {}
        return {"application_samples": {k: len(v) for k, v in samples.items()}}

    def tables(self, res: EvalResults) -> list[Table]:
        out = []
        for k, app in enumerate(judge.applications()):
            label = f"B{k + 2}"  # the paper's Tables B2-B4, then one more per added study
            rows_a = [r for r in res.applications if r.application == app.name]
            if rows_a:
                out.append(
                    Table(
                        f"table{label}_{app.name}",
                        f"Table {label}: {app.title} application, judge scores (1-10)",
                        f"Table {label}: {app.title}, judge scores",
                        list(app.labels.values()),
                        [
                            (
                                r.model,
                                [r.metrics.get(m) for m in app.labels],
                                r.average,
                                r.improvement_pct,
                            )
                            for r in rows_a
                        ],
                        4,
                        "judge score (1-10)",
                    )
                )
        return out

    def appendix(self, res: EvalResults) -> list[str]:
        return [f"Judge: `{res.judge}`.", ""] if res.applications and res.judge else []


def results_row(app: Application, model: str, judged: Mapping[str, Judged]) -> ApplicationScores:
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


def log(app: Application, judged: Mapping[str, Judged]) -> list[dict[str, Any]]:
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


register_benchmark(Applications())
