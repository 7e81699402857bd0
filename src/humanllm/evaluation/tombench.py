"""ToMBench (Chen et al., ACL 2024) from its official files, with its protocol (§4.3, Table 3).

Reading: one item per line of every ``*.jsonl``; the files carry bare ``NaN`` tokens (strict JSON
parsers reject them), read here as missing values. An item whose options C and D are missing in
the chosen language is a two-option question, asked and scored as two-way. Option texts lose a
leading ``"A. "`` label (the Chinese texts carry one), the answer is its first letter (one answer
is ``"A. "``), and the ability label's category is matched ignoring case and spacing
("Non-literal communication" is "Non-Literal Communication").

Protocol: each item is asked ``tries`` (5) times, each time with its options in a new seeded
random order, the answer requested as ``[[X]]``; the letters are mapped back to the original
options and the majority wins (a tie goes to the option voted first; unparseable replies do not
vote; no vote at all is wrong). Accuracy per ability category, and their mean. Evaluation only:
nothing in humanllm trains on these files.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from humanllm.evaluation.asking import ask_texts
from humanllm.evaluation.letters import LETTERS, parse_letter
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.prompts import PromptTemplate, package_template
from humanllm.seeds import rng_for

#: The six ability categories, in Table 3's column order.
CATEGORIES = ("Emotion", "Desire", "Intention", "Knowledge", "Belief", "Non-Literal Communication")
SHORT = {"Non-Literal Communication": "NLC"}

ABILITY = "能力\nABILITY"
ANSWER = "答案\nANSWER"
FIELDS = {
    "en": ("STORY", "QUESTION", ("OPTION-A", "OPTION-B", "OPTION-C", "OPTION-D")),
    "zh": ("故事", "问题", ("选项A", "选项B", "选项C", "选项D")),
}
_LABEL = re.compile(r"^\s*[A-D]\s*[.．、:：)]\s*")


class TomBenchConfig(BaseModel):
    """ToMBench (Chen et al., ACL 2024), evaluation only: nothing may train on it."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        default=None,
        description="Folder of ToMBench's *.jsonl files (its data/ folder); none skips ToMBench.",
    )
    limit: int | None = Field(
        default=None, ge=1, description="Items per ability category (none: every item)."
    )
    language: Literal["en", "zh"] = Field(default="en", description="English or Chinese items.")
    tries: int = Field(
        default=5, ge=1, description="Shuffled asks per item, majority vote (the protocol: 5)."
    )


class TomBenchError(ValueError):
    """The ToMBench folder cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class TomItem:
    id: str  # "<file stem>:<line number>"
    category: str  # one of CATEGORIES
    ability: str  # the full label, normalised
    story: str
    question: str
    options: tuple[str, ...]  # 2 or 4
    answer: int


def read_line(line: str) -> dict[str, Any]:
    """One line of a ToMBench file: JSON whose bare ``NaN`` tokens become None."""
    data: dict[str, Any] = json.loads(line, parse_constant=lambda _: None)
    return data


def category_of(label: str) -> str | None:
    """The Table 3 category of an ability label such as ``"Belief: Location false beliefs"``."""
    head = " ".join(label.split(":", 1)[0].split()).lower()
    for c in CATEGORIES:
        if c.lower() == head:
            return c
    return None


def _option(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = _LABEL.sub("", value, count=1).strip()
    return text or None


def parse_item(data: dict[str, Any], item_id: str, language: str) -> TomItem | str:
    """The item in ``language``, or why it cannot be asked."""
    story_key, question_key, option_keys = FIELDS[language]
    category = category_of(str(data.get(ABILITY) or ""))
    if category is None:
        return f"unknown ability {data.get(ABILITY)!r}"
    options = [_option(data.get(k)) for k in option_keys]
    while options and options[-1] is None:
        options.pop()
    if len(options) < 2 or any(o is None for o in options):
        return "fewer than two options, or a gap among them"
    answer = str(data.get(ANSWER) or "").strip().upper()[:1]
    if not answer or answer not in LETTERS[: len(options)]:
        return f"answer {data.get(ANSWER)!r} names no option"
    story, question = data.get(story_key), data.get(question_key)
    if not isinstance(story, str) or not isinstance(question, str):
        return "no story or question"
    ability = " ".join(str(data[ABILITY]).split())
    return TomItem(
        id=item_id,
        category=category,
        ability=f"{category}:{ability.split(':', 1)[1]}" if ":" in ability else category,
        story=story.strip(),
        question=question.strip(),
        options=tuple(o for o in options if o is not None),
        answer=LETTERS.index(answer),
    )


def load(folder: str | Path, language: str = "en") -> tuple[list[TomItem], dict[str, str]]:
    """Every item of the folder's ``*.jsonl`` files (sorted by name), and the ones skipped."""
    folder = Path(folder)
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise TomBenchError(f"{folder}: no ToMBench *.jsonl files here")
    items: list[TomItem] = []
    skipped: dict[str, str] = {}
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            item_id = f"{path.stem}:{n}"
            try:
                data = read_line(line)
            except json.JSONDecodeError as e:
                raise TomBenchError(f"{path}:{n}: not JSON ({e})") from e
            item = parse_item(data, item_id, language)
            if isinstance(item, str):
                skipped[item_id] = item
            else:
                items.append(item)
    return items, skipped


def select(items: Sequence[TomItem], limit: int | None, seed: int) -> list[TomItem]:
    """Up to ``limit`` items per category, a seeded sample kept in file order."""
    if limit is None:
        return list(items)
    out: list[TomItem] = []
    for c in CATEGORIES:
        mine = [i for i in items if i.category == c]
        if len(mine) > limit:
            keep = set(rng_for(seed, "tombench", c).sample(range(len(mine)), limit))
            mine = [it for k, it in enumerate(mine) if k in keep]
        out.extend(mine)
    return out


def order(item: TomItem, attempt: int, seed: int) -> list[int]:
    """The original option shown at each position in try ``attempt``."""
    perm = list(range(len(item.options)))
    rng_for(seed, "tombench", item.id, attempt).shuffle(perm)
    return perm


def vote(choices: Sequence[int | None]) -> int | None:
    """The majority of the parsed choices; a tie goes to the one voted first; None without votes."""
    votes = Counter(c for c in choices if c is not None)
    if not votes:
        return None
    best = max(votes.values())
    return next(c for c in choices if c is not None and votes[c] == best)


def template(language: str) -> PromptTemplate:
    return package_template("humanllm.evaluation", f"prompts/tombench_{language}.v1.txt")


def render(tpl: PromptTemplate, item: TomItem, perm: Sequence[int]) -> tuple[tuple[str, str], ...]:
    shown = "\n".join(f"{LETTERS[k]}. {item.options[i]}" for k, i in enumerate(perm))
    letters = ", ".join(f"[[{LETTERS[k]}]]" for k in range(len(perm)))
    return tpl.render(story=item.story, question=item.question, options=shown, letters=letters)


@dataclass
class Graded:
    item: TomItem
    choices: list[int | None]  # per try, mapped back to the original options
    raws: list[str]
    voted: int | None

    @property
    def correct(self) -> bool:
        return self.voted == self.item.answer


async def run(
    items: Sequence[TomItem],
    *,
    language: str,
    tries: int,
    seed: int,
    backend: Backend,
    cache: RequestCache,
    sampling: Sampling,
    runner_cfg: RunnerConfig,
) -> list[Graded]:
    tpl = template(language)
    rows = []
    for item in items:
        for t in range(tries):
            rows.append({"id": f"{item.id}#t{t}", "item": item, "perm": order(item, t, seed)})
    replies = await ask_texts(
        rows,
        render=lambda r: render(tpl, r["item"], r["perm"]),
        backend=backend,
        cache=cache,
        stage=f"evaluate.tombench.{language}",
        prompt_version=f"{tpl.id}:{tpl.digest}",
        sampling=sampling,
        runner_cfg=runner_cfg,
    )
    out = []
    for item in items:
        choices, raws = [], []
        for t in range(tries):
            perm = order(item, t, seed)
            text = replies[f"{item.id}#t{t}"].text
            k = parse_letter(text, len(perm), [item.options[i] for i in perm])
            choices.append(None if k is None else perm[k])
            raws.append(text)
        out.append(Graded(item, choices, raws, vote(choices)))
    return out
