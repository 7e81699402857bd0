"""In-domain multiple-choice questions: their stored form, and scoring them in both modes.

A question keeps the task prompt (``system`` + ``prompt``, as the simulator sees it), the options
in their shuffled display order and the index of the real answer. ``letter`` mode shows the task
and the labelled options and asks for a letter (item selection's prompt lists its candidates
itself, so it is asked as it is); ``loglik`` mode scores each option's ``continuation`` as the
reply to the task prompt and picks the highest log-likelihood per byte.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from humanllm.evaluation.asking import ask_texts
from humanllm.evaluation.letters import LETTERS, parse_letter
from humanllm.evaluation.loglik import LoglikCache, argmax, loglik_key, per_byte
from humanllm.llm.base import Backend, Sampling, Scorer
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.progress import LiveProgress, RunSummary
from humanllm.llm.prompts import Messages, PromptTemplate, package_template

REAL = "real"


class MCQuestion(BaseModel):
    """One multiple-choice question, as saved in ``eval/mc/<task>.jsonl``."""

    id: str
    task: str
    source: str = ""
    user_id: str = ""
    ref: str = ""
    system: str = ""
    prompt: str = Field(description="The task's human turn (item selection: with these options).")
    options: list[str] = Field(description="Options in display order (A, B, ...).")
    continuations: list[str] = Field(description="Each option as the reply scored by loglik.")
    answer: int = Field(description="Index of the real answer in options.")
    origins: list[str] = Field(description="'real', or the writer of each distractor.")
    native: bool = Field(
        default=False, description="The prompt lists the options itself (item selection)."
    )

    def messages(self) -> Messages:
        turns = [("system", self.system)] if self.system.strip() else []
        return (*turns, ("user", self.prompt))


class Prediction(BaseModel):
    """One model's answer to one question, as logged in ``eval/predictions/``."""

    id: str
    task: str
    answer: int
    choice: int | None
    correct: bool
    raw: str | None = None
    error: str | None = None
    scores: list[float] | None = None


def template() -> PromptTemplate:
    return package_template("humanllm.evaluation", "prompts/mc.v1.txt")


def prompt_key(tpl: PromptTemplate) -> str:
    return f"{tpl.id}:{tpl.digest}"


def render_letter(tpl: PromptTemplate, q: MCQuestion) -> Messages:
    if q.native:
        return q.messages()
    task = f"{q.system.strip()}\n\n{q.prompt.strip()}".strip()
    options = "\n\n".join(f"{LETTERS[i]}. {o.strip()}" for i, o in enumerate(q.options))
    letters = f"{LETTERS[0]}-{LETTERS[len(q.options) - 1]}"
    return tpl.render(task=task, options=options, letters=letters)


def save_questions(folder: Path, questions: Sequence[MCQuestion]) -> dict[str, int]:
    """One ``<task>.jsonl`` per task; returns questions per task."""
    folder.mkdir(parents=True, exist_ok=True)
    by_task: dict[str, list[MCQuestion]] = {}
    for q in questions:
        by_task.setdefault(q.task, []).append(q)
    for task, qs in by_task.items():
        lines = "".join(q.model_dump_json() + "\n" for q in qs)
        tmp = folder / f".{task}.jsonl.tmp"
        tmp.write_text(lines, encoding="utf-8")
        tmp.replace(folder / f"{task}.jsonl")
    return {t: len(qs) for t, qs in by_task.items()}


def load_questions(folder: Path) -> list[MCQuestion]:
    out: list[MCQuestion] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(MCQuestion.model_validate(json.loads(line)))
    return out


async def score_letters(
    questions: Sequence[MCQuestion],
    *,
    backend: Backend,
    cache: RequestCache,
    sampling: Sampling,
    runner_cfg: RunnerConfig,
) -> list[Prediction]:
    """The paper's mode: the model names a letter; an unparseable reply is wrong (``choice`` None)."""
    tpl = template()
    rows: list[dict[str, Any]] = [{"id": q.id, "q": q} for q in questions]
    replies = await ask_texts(
        rows,
        render=lambda r: render_letter(tpl, r["q"]),
        backend=backend,
        cache=cache,
        stage="evaluate.mc",
        prompt_version=prompt_key(tpl),
        sampling=sampling,
        runner_cfg=runner_cfg,
    )
    out = []
    for q in questions:
        reply = replies[q.id]
        choice = parse_letter(reply.text, len(q.options), q.options)
        out.append(
            Prediction(
                id=q.id,
                task=q.task,
                answer=q.answer,
                choice=choice,
                correct=choice == q.answer,
                raw=reply.text,
                error=reply.error,
            )
        )
    return out


def score_loglik(
    questions: Sequence[MCQuestion],
    *,
    scorer: Scorer,
    model_id: str,
    cache: LoglikCache,
    progress: bool = True,
) -> list[Prediction]:
    """Each option's continuation scored as the reply to the task prompt; highest per byte wins.
    Shows the runner's progress (a bar, or plain lines in a log) per question scored."""
    summary = RunSummary(items=len(questions))
    with LiveProgress("evaluate.loglik", len(questions), summary, enabled=progress) as bar:
        return [_score_one(q, scorer, model_id, cache, summary, bar) for q in questions]


def _score_one(
    q: MCQuestion,
    scorer: Scorer,
    model_id: str,
    cache: LoglikCache,
    summary: RunSummary,
    bar: LiveProgress,
) -> Prediction:
    messages = list(q.messages())
    key = loglik_key(model_id, q.id, messages, q.continuations)
    scores = cache.get(key)
    error = None
    if scores is None:
        try:
            scores = scorer.loglikelihoods(messages, list(q.continuations))
        except Exception as e:  # a prompt too long for the model: this question is wrong
            error = f"{type(e).__name__}: {e}"
        else:
            cache.put(key, model_id, q.id, scores)
            summary.requests += 1
    else:
        summary.cache_hits += 1
    choice = None if scores is None else argmax(per_byte(scores, q.continuations))
    summary.results += 1
    bar.advance()
    return Prediction(
        id=q.id,
        task=q.task,
        answer=q.answer,
        choice=choice,
        correct=choice == q.answer,
        error=error,
        scores=scores,
    )
