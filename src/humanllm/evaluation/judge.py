"""The application studies (§4.5, Tables B2-B4): each model answers application prompts from the
test split, and a judge model scores every answer 1-10 per metric, with a rationale. Each study is
owned by the task it draws from (``Task.judge``, its judgement schema beside it):

- profile generation (``profile_generation`` rows): faithfulness, realism, coverage;
- human explainer (``social_qa`` rows): contextual relevance, logical consistency, alignment with
  the reference;
- personalized writing (``writing_imitation`` rows): style match, content relevance, content
  similarity.

Every model answers the same seeded sample of rows (``judge.samples`` per application) at the
inference temperature; the judge sees the task, the reference (the real reply) and the answer,
never which model wrote it. An empty answer scores 1 on every metric without asking the judge; a
judgement the judge fails to give (invalid after the runner's re-asks) is left out and counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from humanllm.evaluation.asking import Reply, ask_texts, trim_cut_off
from humanllm.evaluation.indomain import question_ids, read_split, sample, turns
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.prompts import PromptTemplate, package_template
from humanllm.llm.runner import arun_llm


class Score(BaseModel):
    rationale: str = Field(max_length=300, description="One or two sentences.")
    score: int = Field(ge=1, le=10)


@dataclass(frozen=True)
class Application:
    name: str
    title: str  # table caption
    task: str  # the test split it draws from
    template: str
    schema: type[BaseModel]
    # metric field -> column label, in column order; by default every field of ``schema``, in
    # its order, as a title ("style_match" -> "Style Match")
    labels: Mapping[str, str] = field(default_factory=dict)
    package: str = "humanllm.evaluation"  # where ``prompts/<template>`` is found

    def __post_init__(self) -> None:
        if not self.labels:
            titles = {m: m.replace("_", " ").title() for m in self.schema.model_fields}
            object.__setattr__(self, "labels", titles)


def applications() -> tuple[Application, ...]:
    """Every task's application study, in the task registry's order (Tables B2, B3, B4)."""
    from humanllm.tasks.registry import tasks

    return tuple(t.judge for t in tasks() if t.judge is not None)


def __getattr__(name: str) -> Any:
    if name == "APPLICATIONS":  # the name callers used when this was a table
        return applications()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Sample:
    id: str
    system: str
    prompt: str
    reference: str

    def messages(self) -> tuple[tuple[str, str], ...]:
        turns_ = [("system", self.system)] if self.system.strip() else []
        return (*turns_, ("user", self.prompt))

    def task_text(self) -> str:
        return f"{self.system.strip()}\n\n{self.prompt.strip()}".strip()


def samples(tasks_dir: Any, app: Application, k: int, seed: int) -> list[Sample]:
    rows = sample(read_split(tasks_dir, app.task), k, seed, f"app/{app.name}")
    out = []
    for qid, row in zip(question_ids(app.task, rows), rows, strict=True):
        system, human, gpt = turns(row)
        if human.strip() and gpt.strip():
            out.append(Sample(qid, system, human, gpt.strip()))
    return out


def template(app: Application) -> PromptTemplate:
    return package_template(app.package, f"prompts/{app.template}")


async def answer(
    app: Application,
    items: Sequence[Sample],
    *,
    backend: Backend,
    cache: RequestCache,
    sampling: Sampling,
    runner_cfg: RunnerConfig,
) -> dict[str, Reply]:
    """Each model's answers to the application prompts (the task prompt as it is)."""
    return await ask_texts(
        [{"id": s.id, "s": s} for s in items],
        render=lambda r: r["s"].messages(),
        backend=backend,
        cache=cache,
        stage=f"evaluate.app.{app.name}",
        prompt_version="application@1",
        sampling=sampling,
        runner_cfg=runner_cfg,
    )


@dataclass
class Judged:
    scores: dict[str, int] | None  # None: the judge gave no valid judgement
    rationales: dict[str, str]
    answer: str
    error: str | None = None


async def judge(
    app: Application,
    items: Sequence[Sample],
    answers: Mapping[str, Mapping[str, Reply]],
    *,
    backend: Backend,
    cache: RequestCache,
    sampling: Sampling,
    runner_cfg: RunnerConfig,
) -> dict[str, dict[str, Judged]]:
    """``{model: {sample id: Judged}}`` for ``answers`` = ``{model: {sample id: Reply}}``."""
    tpl = template(app)
    metrics = list(app.labels)
    out: dict[str, dict[str, Judged]] = {m: {} for m in answers}
    rows: list[dict[str, Any]] = []
    for model, replies in answers.items():
        for s in items:
            reply = replies.get(s.id) or Reply(error="no answer")
            text = trim_cut_off(reply.text) if reply.truncated else reply.text.strip()
            if not text:
                out[model][s.id] = Judged(
                    {m: 1 for m in metrics}, {m: "empty answer" for m in metrics}, "", reply.error
                )
                continue
            rows.append({"id": f"{model}/{s.id}", "model": model, "s": s, "text": text})
    if rows:
        outcome = await arun_llm(
            rows,
            render=lambda r: tpl.render(
                task=r["s"].task_text(), reference=r["s"].reference, answer=r["text"]
            ),
            schema=app.schema,
            backend=backend,
            cache=cache,
            stage=f"evaluate.judge.{app.name}",
            prompt_version=f"{tpl.id}:{tpl.digest}",
            sampling=sampling,
            runner_cfg=runner_cfg,
            progress=True,
        )
        rejects = {r.id: r for r in outcome.rejects}
        for r in rows:
            obj = outcome.results.get(r["id"])
            if obj is None:
                rej = rejects[r["id"]]
                out[r["model"]][r["s"].id] = Judged(
                    None, {}, r["text"], f"{rej.reason}: {rej.error}"
                )
                continue
            data = obj.model_dump()
            out[r["model"]][r["s"].id] = Judged(
                {m: int(data[m]["score"]) for m in metrics},
                {m: str(data[m]["rationale"]) for m in metrics},
                r["text"],
            )
    return out
