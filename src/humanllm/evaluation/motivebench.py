"""MotiveBench from its official files, with its protocol (§4.3, Table 2).

Files: ``{Amazon,Blog,Persona}/*_questions.json``, each a JSON list of items; an item holds three
questions (motivation reasoning, behavior reasoning, motivation and behavior reasoning), each
with six options labelled ``"A. ..."`` to ``"F. ..."`` (a list, or one string with a line per
option) and a correct letter. Protocol: every question is asked under 6 fixed option orders
(cyclic shifts, so the right option sits once at every position), at temperature 0; accuracy per
question type and per subset, averaged over the orders. Table 2 reports the subsets (Blog is
labelled "Blogger") and their mean.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from humanllm.evaluation.asking import ask_texts
from humanllm.evaluation.letters import LETTERS, parse_letter
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.prompts import PromptTemplate, package_template

#: Folder -> the subset's name in Table 2, in its column order.
SUBSETS = {"Amazon": "Amazon", "Blog": "Blogger", "Persona": "Persona"}
#: Question types: (question key, options key, answer key, name).
TYPES = (
    ("Motivation Reasoning Question", "Options 1", "Correct Answer 1", "Motivation"),
    ("Behavior Reasoning Question", "Options 2", "Correct Answer 2", "Behavior"),
    (
        "Motivation and Behavior Reasoning Question",
        "Options 3",
        "Correct Answer 3",
        "Motivation & Behavior",
    ),
)
_LINE = re.compile(r"^\s*([A-Z])\s*[.．、:)]\s*(.*)$")


class MotiveBenchConfig(BaseModel):
    """MotiveBench: {Amazon,Blog,Persona}/*_questions.json, six-option questions."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        default=None,
        description="Folder holding Amazon/, Blog/ and Persona/; none skips MotiveBench.",
    )
    limit: int | None = Field(
        default=None, ge=1, description="Items per subset (each item holds three questions)."
    )
    orders: int = Field(
        default=6, ge=1, le=6, description="Fixed option orders (cyclic shifts; the protocol: 6)."
    )
    temperature: float = Field(default=0.0, ge=0, le=2, description="The protocol: 0.")


class MotiveBenchError(ValueError):
    """The MotiveBench folder cannot be read; the message names the file."""


@dataclass(frozen=True)
class MotiveQuestion:
    id: str  # "<subset>/<idx>/<type>"
    subset: str  # Table 2 name
    qtype: str
    question: str
    options: tuple[str, ...]
    answer: int


def split_options(value: Any) -> list[str]:
    """Option texts without their ``"A. "`` labels, from a list or a one-option-per-line string."""
    if isinstance(value, str):
        lines: list[str] = []
        for line in value.splitlines():
            if _LINE.match(line) or not lines:
                lines.append(line)
            elif line.strip():
                lines[-1] += " " + line.strip()
        value = lines
    if not isinstance(value, list):
        return []
    out = []
    for v in value:
        m = _LINE.match(str(v))
        out.append((m.group(2) if m else str(v)).strip())
    return [o for o in out if o]


def parse_items(data: Any, subset: str, source: str) -> tuple[list[MotiveQuestion], list[str]]:
    if not isinstance(data, list):
        raise MotiveBenchError(f"{source}: expected a JSON list of items")
    out, problems = [], []
    for n, item in enumerate(data):
        idx = item.get("idx", n) if isinstance(item, dict) else n
        for qkey, okey, akey, name in TYPES:
            qid = f"{subset}/{idx}/{name}"
            if not isinstance(item, dict) or not isinstance(item.get(qkey), str):
                problems.append(f"{qid}: no question")
                continue
            options = split_options(item.get(okey))
            letter = str(item.get(akey) or "").strip().upper()[:1]
            if len(options) < 2 or not letter or letter not in LETTERS[: len(options)]:
                problems.append(f"{qid}: options or answer unusable")
                continue
            out.append(
                MotiveQuestion(
                    qid, subset, name, item[qkey].strip(), tuple(options), LETTERS.index(letter)
                )
            )
    return out, problems


def load(folder: str | Path, limit: int | None = None) -> tuple[list[MotiveQuestion], list[str]]:
    """Questions of every subset (items in file order, the first ``limit`` per subset)."""
    folder = Path(folder)
    questions: list[MotiveQuestion] = []
    problems: list[str] = []
    for dirname, subset in SUBSETS.items():
        files = sorted((folder / dirname).glob("*_questions.json"))
        items: list[Any] = []
        for path in files:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as e:
                raise MotiveBenchError(f"{path}: not readable JSON ({e})") from e
            if not isinstance(data, list):
                raise MotiveBenchError(f"{path}: expected a JSON list of items")
            items.extend(data)
        if limit is not None:
            items = items[:limit]
        qs, bad = parse_items(items, subset, str(folder / dirname))
        questions.extend(qs)
        problems.extend(bad)
    if not questions:
        raise MotiveBenchError(
            f"{folder}: no MotiveBench questions (expected Amazon/, Blog/, Persona/ with *_questions.json)"
        )
    return questions, problems


def shift(n: int, k: int) -> list[int]:
    """Order ``k``: the original option shown at each position (a cyclic shift by ``k``)."""
    return [(p + k) % n for p in range(n)]


def template() -> PromptTemplate:
    return package_template("humanllm.evaluation", "prompts/motivebench.v1.txt")


def render(
    tpl: PromptTemplate, q: MotiveQuestion, perm: Sequence[int]
) -> tuple[tuple[str, str], ...]:
    shown = "\n".join(f"{LETTERS[k]}. {q.options[i]}" for k, i in enumerate(perm))
    letters = f"{LETTERS[0]}-{LETTERS[len(perm) - 1]}"
    return tpl.render(question=q.question, options=shown, letters=letters)


@dataclass
class Answered:
    question: MotiveQuestion
    order: int
    choice: int | None  # original option index
    raw: str

    @property
    def correct(self) -> bool:
        return self.choice == self.question.answer


async def run(
    questions: Sequence[MotiveQuestion],
    *,
    orders: int,
    backend: Backend,
    cache: RequestCache,
    sampling: Sampling,
    runner_cfg: RunnerConfig,
) -> list[Answered]:
    tpl = template()
    rows: list[dict[str, Any]] = [
        {"id": f"{q.id}#o{k}", "q": q, "perm": shift(len(q.options), k)}
        for q in questions
        for k in range(orders)
    ]
    replies = await ask_texts(
        rows,
        render=lambda r: render(tpl, r["q"], r["perm"]),
        backend=backend,
        cache=cache,
        stage="evaluate.motivebench",
        prompt_version=f"{tpl.id}:{tpl.digest}",
        sampling=sampling,
        runner_cfg=runner_cfg,
    )
    out = []
    for r in rows:
        q, perm = r["q"], r["perm"]
        text = replies[r["id"]].text
        k = parse_letter(text, len(perm), [q.options[i] for i in perm])
        out.append(
            Answered(q, int(r["id"].rsplit("#o", 1)[1]), None if k is None else perm[k], text)
        )
    return out


def accuracy(answered: Sequence[Answered]) -> dict[str, dict[str, float]]:
    """``{subset: {type: accuracy}}``: per order, then averaged over the orders."""
    cells: dict[tuple[str, str, int], list[bool]] = {}
    for a in answered:
        cells.setdefault((a.question.subset, a.question.qtype, a.order), []).append(a.correct)
    per: dict[tuple[str, str], list[float]] = {}
    for (subset, qtype, _), hits in cells.items():
        per.setdefault((subset, qtype), []).append(sum(hits) / len(hits))
    out: dict[str, dict[str, float]] = {}
    for (subset, qtype), accs in per.items():
        out.setdefault(subset, {})[qtype] = sum(accs) / len(accs)
    return out
