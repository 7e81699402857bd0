"""Small format-true inputs: a run folder with a ShareGPT test split and a genome, MotiveBench
files, and scripted models that know which option is real."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl

from humanllm.llm.base import ChatRequest
from humanllm.tasks import prompts as P

GENERATED = ("profile_generation", "scenario_generation", "social_qa", "writing_imitation")
N_ITEMS = 40
USERS = ("a1", "a2", "a3")


def owned(user: str) -> list[str]:
    """Items a user reviewed: a1 -> i00..i04, a2 -> i05..i09, ..."""
    k = USERS.index(user)
    return [f"i{k * 5 + j:02d}" for j in range(5)]


TRUE_TITLES = {f"Item number {int(owned(u)[-1][1:])}" for u in USERS}


def write_genome(root: Path) -> None:
    g = root / "genome"
    g.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "source": ["amazon"] * N_ITEMS,
            "item_id": [f"i{i:02d}" for i in range(N_ITEMS)],
            "title": [f"Item number {i}" for i in range(N_ITEMS)],
        }
    ).write_parquet(g / "items.parquet")
    rows = [
        {"source": "amazon", "user_id": u, "meta": json.dumps({"parent_asin": i})}
        for u in USERS
        for i in owned(u)
    ]
    rows.append({"source": "reddit", "user_id": "r1", "meta": "{}"})
    pl.DataFrame(rows).write_parquet(g / "records.parquet")


def item_row(user: str, k: int) -> dict[str, Any]:
    """An item-selection row as the tasks stage writes it: the true item is the user's last one."""
    history = [P.Review(f"Item number {int(i[1:])}") for i in owned(user)[:-1]]
    true_id = owned(user)[-1]
    negatives = [f"i{j:02d}" for j in range(20, 39)]  # none of them owned
    candidates = [*negatives[:k], true_id, *negatives[k:]]
    titles = [f"Item number {int(c[1:])}" for c in candidates]
    prompt = P.item_selection(titles, history, persona=f"Persona of {user}.")
    return {
        "system": prompt.system,
        "conversations": [
            {"from": "human", "value": prompt.human},
            {"from": "gpt", "value": P.item_choice(k, titles[k])},
        ],
        "task": "item_selection",
        "source": "amazon",
        "user_id": user,
        "ref": f"{user}-last",
        "candidates": candidates,
    }


def generated_row(task: str, k: int) -> dict[str, Any]:
    return {
        "system": f"You simulate a person ({task}).",
        "conversations": [
            {"from": "human", "value": f"Task {task} number {k}: tell me what you do."},
            {"from": "gpt", "value": f"REAL answer {k} of {task}, as the person wrote it."},
        ],
        "task": task,
        "source": "reddit",
        "user_id": f"r{k}",
        "ref": f"{task}-{k}",
    }


def write_tasks(root: Path, per_task: int = 3) -> None:
    for task in GENERATED:
        rows = [generated_row(task, k) for k in range(per_task)]
        _jsonl(root / "tasks" / task / "test.jsonl", rows)
    _jsonl(
        root / "tasks" / "item_selection" / "test.jsonl",
        [item_row(u, k) for k, u in enumerate(USERS)],
    )


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


# --- MotiveBench, in the format of its repository --------------------------------------------


def motive_item(idx: int, answers: tuple[str, str, str], as_string: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"idx": idx}
    keys = (
        ("Motivation Reasoning Question", "Options 1", "Correct Answer 1"),
        ("Behavior Reasoning Question", "Options 2", "Correct Answer 2"),
        ("Motivation and Behavior Reasoning Question", "Options 3", "Correct Answer 3"),
    )
    for (q, o, a), right in zip(keys, answers, strict=True):
        opts = [
            f"{L}. {'RIGHT' if right == L else 'wrong'} option {L} of item {idx}" for L in "ABCDEF"
        ]
        item[q] = f"Item {idx}: {q}? A person did something."
        item[o] = "\n".join(opts) if as_string else opts
        item[a] = right
    return item


def write_motivebench(folder: Path) -> None:
    for sub, n in (("Amazon", 2), ("Blog", 2), ("Persona", 3)):
        items = [motive_item(i, ("A", "C", "F"), as_string=(sub == "Blog")) for i in range(n)]
        (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / sub / f"{sub.lower()}_questions.json").write_text(json.dumps(items))


# --- scripted replies ----------------------------------------------------------------------


def labelled(request: ChatRequest) -> dict[str, str]:
    """Option letter -> text of the options the last message lists as ``X. text``."""
    text = request.messages[-1][1]
    return {m.group(1): m.group(2) for m in re.finditer(r"^([A-Z])\. (.*)$", text, re.M)}


def knowing(request: ChatRequest) -> str:
    """Names the real / right option (in varied formats); the item by its true title."""
    text = request.messages[-1][1]
    options = labelled(request)
    for letter, body in options.items():
        if "REAL" in body or "RIGHT" in body or body in TRUE_TITLES:
            return {0: f"[[{letter}]]", 1: f"Answer: {letter}", 2: f"({letter.lower()})"}[
                len(text) % 3
            ]
    if "[Story]" in text:
        return "[[A]]"
    return "a tuned answer written in the person's voice"
