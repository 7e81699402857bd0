"""Building the in-domain multiple-choice questions (§4.2, Table 1) once, from the test split.

Each task says how its questions are made (``Task.questions``, :mod:`humanllm.tasks.task`):

- its own question maker: item selection, 20-way: the true item and 19 items drawn at random from
  the same source's item pool (:mod:`humanllm.tasks.defs.item_selection`);
- generated answers (profile generation, scenario generation, social QA, writing imitation),
  8-way: the real reply and 7 distractors (:mod:`humanllm.evaluation.distractors`), in a seeded
  random order.

Each task's rows are a seeded sample of ``per_task`` rows of ``tasks/<task>/test.jsonl``; every
random choice depends only on the seed and the question id, never on processing order.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from humanllm.evaluation import distractors
from humanllm.evaluation.config import EvaluateConfig
from humanllm.evaluation.distractors import Pending
from humanllm.evaluation.mc import REAL, MCQuestion
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.seeds import rng_for
from humanllm.tasks.registry import get_task
from humanllm.tasks.task import GENERATED, QuestionContext, QuestionMaker


def read_split(tasks_dir: Path, task: str, split: str = "test") -> list[dict[str, Any]]:
    """The rows of ``tasks/<task>/<split>.jsonl`` (none when the file is absent)."""
    path = tasks_dir / task / f"{split}.jsonl"
    if not path.is_file():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def turns(row: dict[str, Any]) -> tuple[str, str, str]:
    """``(system, human, gpt)`` of a single-turn ShareGPT row."""
    human = gpt = ""
    for turn in row.get("conversations") or []:
        if turn.get("from") == "human" and not human:
            human = str(turn.get("value") or "")
        elif turn.get("from") == "gpt" and not gpt:
            gpt = str(turn.get("value") or "")
    return str(row.get("system") or ""), human, gpt


def sample(
    rows: Sequence[dict[str, Any]], k: int | None, seed: int, task: str
) -> list[dict[str, Any]]:
    """A seeded sample of ``k`` rows, kept in file order (every row when ``k`` is None)."""
    if k is None or k >= len(rows):
        return list(rows)
    keep = sorted(rng_for(seed, "sample", task).sample(range(len(rows)), k))
    return [rows[i] for i in keep]


def question_ids(task: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    """``task/source/ref``; a repeat gets ``#2``, ``#3``, ... in file order."""
    seen: Counter[str] = Counter()
    out = []
    for i, r in enumerate(rows):
        base = f"{task}/{r.get('source', '')}/{r.get('ref', i)}"
        seen[base] += 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out


# --- the generated-answer tasks -----------------------------------------------------------------


def pending(
    task: str, rows: Sequence[dict[str, Any]], ids: Sequence[str]
) -> tuple[list[Pending], dict[str, str]]:
    """Questions waiting for distractors, and the rows skipped (id -> reason)."""
    out, skipped = [], {}
    for qid, row in zip(ids, rows, strict=True):
        system, human, gpt = turns(row)
        if not human.strip() or not gpt.strip():
            skipped[qid] = "row without a human turn or a reply"
            continue
        messages = (*((("system", system),) if system.strip() else ()), ("user", human))
        out.append(Pending(id=qid, messages=messages, real=gpt.strip()))
    return out, skipped


def generated_question(task: str, row: dict[str, Any], p: Pending, seed: int) -> MCQuestion:
    system, human, _ = turns(row)
    options = [(p.real, REAL), *p.found]
    rng_for(seed, task, p.id).shuffle(options)
    texts = [t for t, _ in options]
    return MCQuestion(
        id=p.id,
        task=task,
        source=str(row.get("source", "")),
        user_id=str(row.get("user_id", "")),
        ref=str(row.get("ref", "")),
        system=system,
        prompt=human,
        options=texts,
        continuations=texts,
        answer=next(k for k, (_, o) in enumerate(options) if o == REAL),
        origins=[o for _, o in options],
    )


# --- building the whole set once ---


def _maker(name: str) -> QuestionMaker | Literal["generated"]:
    """The question maker of a task; a task the registry does not know (or that has none) gets
    the generated-answer questions, as every task but item selection does."""
    try:
        made = get_task(name).questions
    except KeyError:
        return GENERATED
    return GENERATED if made is None or isinstance(made, str) else made


# --- the whole set --------------------------------------------------------------------------------


@dataclass
class BuiltSet:
    questions: list[MCQuestion]
    dropped: dict[str, str]  # question id -> reason
    available: dict[str, int]  # test rows per task


async def build_questions(
    tasks_dir: Path,
    genome_dir: Path,
    cfg: EvaluateConfig,
    *,
    distractor_backends: Sequence[Backend],
    cache: RequestCache,
    runner_cfg: RunnerConfig,
    describe: Callable[[Any], str],
) -> BuiltSet:
    """Every configured task's questions; distractors come from ``distractor_backends`` (one per
    ``cfg.distractor_models`` entry, in order)."""
    ind = cfg.in_domain
    questions: list[MCQuestion] = []
    dropped: dict[str, str] = {}
    available: dict[str, int] = {}
    waiting: list[tuple[str, dict[str, Any], Pending]] = []
    ctx = QuestionContext(genome_dir=genome_dir, config=ind, seed=cfg.seed)
    for name in ind.tasks:
        rows = read_split(tasks_dir, name)
        available[name] = len(rows)
        rows = sample(rows, ind.per_task, cfg.seed, name)
        ids = question_ids(name, rows)
        maker = _maker(name)
        if not isinstance(maker, str):  # the task's own questions
            for qid, q in zip(ids, maker(rows, ids, ctx), strict=True):
                if isinstance(q, str):
                    dropped[qid] = q
                else:
                    questions.append(q)
            continue
        ready, skipped = pending(name, rows, ids)
        dropped.update(skipped)
        by_id = dict(zip(ids, rows, strict=True))
        waiting.extend((name, by_id[p.id], p) for p in ready)
    if waiting:
        short = await distractors.generate(
            [p for _, _, p in waiting],
            specs=cfg.distractor_models,
            backends=distractor_backends,
            n=ind.n_options - 1,
            cache=cache,
            sampling=Sampling(
                temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=ind.distractor_max_tokens
            ),
            runner_cfg=runner_cfg,
            rounds=ind.distractor_rounds,
            describe=describe,
        )
        dropped.update(short)
        for task, row, p in waiting:
            if p.id not in short:
                questions.append(generated_question(task, row, p, cfg.seed))
    order = {t: i for i, t in enumerate(ind.tasks)}
    questions.sort(key=lambda q: order[q.task])  # stable: file order within a task
    return BuiltSet(questions, dropped, available)
