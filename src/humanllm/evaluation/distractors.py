"""Wrong answers for the 8-way questions (§4.2): other models answer the same task prompt.

A distractor model gets the task's system prompt and human turn, never the real reply: the real
person's behaviour is what it has not seen, which is why its answer counts as a wrong option. With
fewer models than slots (``n_options - 1``), the models are cycled and each new turn of a model
uses a new seed (the quick start: the embedded model at seven seeds). A slot whose answer is
empty, or equal (up to case and spacing) to the real answer or an earlier distractor, is asked
again with a new request id, up to ``rounds`` times; a question that still lacks a distractor is
dropped, with the reason, rather than asked with fewer options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from humanllm.evaluation.asking import Reply, ask_texts, trim_cut_off
from humanllm.evaluation.config import DistractorSpec
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.prompts import Messages
from humanllm.text import fold

PROMPT_VERSION = "distractor@1"  # the prompt is the task's own; this names how it is asked


@dataclass
class Pending:
    """A question waiting for its distractors."""

    id: str
    messages: Messages
    real: str
    found: list[tuple[str, str]] = field(default_factory=list)  # (text, writer)
    seen: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Slot:
    index: int
    spec: int  # index into the distractor specs
    turn: int  # how many times that spec was used before this slot


def slots(n: int, n_specs: int) -> list[Slot]:
    return [Slot(k, k % n_specs, k // n_specs) for k in range(n)]


def writer_label(spec: DistractorSpec, turn: int, describe: Callable[[Any], str]) -> str:
    name = spec.label or (spec.backend if isinstance(spec.backend, str) else describe(spec.backend))
    return f"{name}#seed{spec.seed + turn}"


async def generate(
    pending: Sequence[Pending],
    *,
    specs: Sequence[DistractorSpec],
    backends: Sequence[Backend],
    n: int,
    cache: RequestCache,
    sampling: Sampling,
    runner_cfg: RunnerConfig,
    rounds: int,
    describe: Callable[[Any], str],
) -> dict[str, str]:
    """Fill ``found`` of every pending question with ``n`` distractors where possible.

    ``backends[i]`` is the live backend of ``specs[i]``. Returns ``{question id: why dropped}``
    for the questions left short.
    """
    for p in pending:
        p.seen = {fold(p.real)}
    plan = slots(n, len(specs))
    todo: dict[str, list[Slot]] = {p.id: list(plan) for p in pending}
    by_id = {p.id: p for p in pending}
    replies: dict[str, Reply] = {}
    for rnd in range(rounds):
        for si, spec in enumerate(specs):
            for turn in sorted({s.turn for s in plan if s.spec == si}):
                rows = [
                    {"id": _request_id(qid, s, rnd), "messages": by_id[qid].messages}
                    for qid, wanted in todo.items()
                    for s in wanted
                    if s.spec == si and s.turn == turn
                ]
                got = await ask_texts(
                    rows,
                    render=lambda r: r["messages"],
                    backend=backends[si],
                    cache=cache,
                    stage="evaluate.distractors",
                    prompt_version=PROMPT_VERSION,
                    sampling=dataclasses.replace(sampling, seed=spec.seed + turn),
                    runner_cfg=runner_cfg,
                )
                replies.update(got)
        for qid, wanted in list(todo.items()):
            p, still = by_id[qid], []
            for s in wanted:
                reply = replies.get(_request_id(qid, s, rnd))
                text = "" if reply is None or reply.error else reply.text
                text = trim_cut_off(text) if reply is not None and reply.truncated else text.strip()
                if text and fold(text) not in p.seen:
                    p.seen.add(fold(text))
                    p.found.append((text, writer_label(specs[s.spec], s.turn, describe)))
                else:
                    still.append(s)
            if still:
                todo[qid] = still
            else:
                del todo[qid]
        if not todo:
            break
    return {
        qid: f"{len(wanted)} of {n} distractors still empty or duplicate after {rounds} rounds"
        for qid, wanted in todo.items()
    }


def _request_id(qid: str, slot: Slot, rnd: int) -> str:
    return f"{qid}/d{slot.index}" + (f"/r{rnd}" if rnd else "")
