"""Building the in-domain multiple-choice questions (§4.2, Table 1) once, from the test split.

- item selection, 20-way: the true item and 19 items drawn at random from the same source's item
  pool (genome ``items``), none of them an item the user reviewed (``records``) or titled like
  one; the candidate block of the task prompt is rewritten with these candidates in a seeded
  random order. The prompt asks for the letter itself, so it is asked as it is.
- profile generation, scenario generation, social QA, writing imitation, 8-way: the real reply
  and 7 distractors (:mod:`humanllm.evaluation.distractors`), in a seeded random order.

Each task's rows are a seeded sample of ``per_task`` rows of ``tasks/<task>/test.jsonl``; every
random choice depends only on the seed and the question id, never on processing order.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from humanllm.evaluation import distractors
from humanllm.evaluation.config import EvaluateConfig
from humanllm.evaluation.distractors import Pending
from humanllm.evaluation.letters import LETTERS
from humanllm.evaluation.mc import REAL, MCQuestion
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.seeds import rng_for
from humanllm.tasks.prompts import item_choice
from humanllm.text import fold

_LABELLED = re.compile(r"^([A-Z])\.\s+(.*\S)\s*$")


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


# --- item selection -----------------------------------------------------------------------------


@dataclass
class ItemPool:
    """Titled items per source, and what each user reviewed (ids and normalised titles)."""

    items: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    owned: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    owned_titles: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    @classmethod
    def from_genome(cls, genome: Path) -> ItemPool:
        pool = cls()
        items_path, records_path = genome / "items.parquet", genome / "records.parquet"
        titles: dict[tuple[str, str], str] = {}
        if items_path.is_file():
            df = pl.read_parquet(items_path)
            if "source" not in df.columns:
                df = df.with_columns(pl.lit("amazon").alias("source"))
            for r in df.select("source", "item_id", "title").sort("source", "item_id").iter_rows():
                source, item_id, title = (str(r[0]), str(r[1]), (r[2] or "").strip())
                if title:
                    pool.items.setdefault(source, []).append((item_id, title))
                    titles[(source, item_id)] = title
        if records_path.is_file():
            rec = pl.read_parquet(records_path, columns=["source", "user_id", "meta"])
            for source, user_id, meta in rec.iter_rows():
                try:
                    asin = str((json.loads(meta or "{}") or {}).get("parent_asin") or "")
                except (json.JSONDecodeError, AttributeError):
                    asin = ""
                if asin:
                    key = (str(source), str(user_id))
                    pool.owned.setdefault(key, set()).add(asin)
                    title = titles.get((str(source), asin))
                    if title:
                        pool.owned_titles.setdefault(key, set()).add(fold(title))
        return pool


def candidate_block(lines: Sequence[str], n: int | None) -> tuple[int, int] | None:
    """``(start, length)`` of the one run of lines labelled ``A. ``, ``B. ``, ... in the prompt."""
    runs = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("A. "):
            k = 1
            while (
                i + k < len(lines)
                and k < len(LETTERS)
                and lines[i + k].startswith(f"{LETTERS[k]}. ")
            ):
                k += 1
            if k >= 2 and (n is None or k == n):
                runs.append((i, k))
            i += k
        else:
            i += 1
    return runs[0] if len(runs) == 1 else None


def item_question(
    row: dict[str, Any], qid: str, pool: ItemPool, n_options: int, seed: int
) -> MCQuestion | str:
    """The 20-way question of one item-selection row, or why the row cannot be one."""
    system, human, gpt = turns(row)
    m = _LABELLED.match(gpt.strip())
    if not m:
        return "answer is not '<letter>. <title>'"
    true_title = m.group(2)
    source, user = str(row.get("source", "")), str(row.get("user_id", ""))
    shown = row.get("candidates")
    lines = human.splitlines()
    block = candidate_block(lines, len(shown) if isinstance(shown, list) else None)
    if block is None:
        return "prompt has no single labelled candidate block"
    true_id = ""
    pick = LETTERS.index(m.group(1))
    if isinstance(shown, list) and pick < len(shown):
        true_id = str(shown[pick])
    owned = pool.owned.get((source, user), set()) | {true_id}
    banned = pool.owned_titles.get((source, user), set()) | {fold(true_title)}
    eligible = []
    for item_id, title in pool.items.get(source, []):
        if item_id not in owned and fold(title) not in banned:
            banned.add(fold(title))  # no two candidates titled alike
            eligible.append((item_id, title))
    rng = rng_for(seed, "item_selection", qid)
    negatives = rng.sample(eligible, min(n_options - 1, len(eligible)))
    if not negatives:
        return "item pool has no other item"
    options = [(true_id, true_title, REAL), *[(i, t, "pool") for i, t in negatives]]
    rng.shuffle(options)
    answer = next(k for k, o in enumerate(options) if o[2] == REAL)
    start, length = block
    new_block = [item_choice(k, title) for k, (_, title, _) in enumerate(options)]
    prompt = "\n".join([*lines[:start], *new_block, *lines[start + length :]])
    return MCQuestion(
        id=qid,
        task="item_selection",
        source=source,
        user_id=user,
        ref=str(row.get("ref", "")),
        system=system,
        prompt=prompt,
        options=[title for _, title, _ in options],
        continuations=new_block,
        answer=answer,
        origins=[origin if origin == REAL else f"pool:{i}" for i, _, origin in options],
        native=True,
    )


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


# --- building the whole set once ----------------------------------------------------------------


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
    pool: ItemPool | None = None
    for task in ind.tasks:
        rows = read_split(tasks_dir, task)
        available[task] = len(rows)
        rows = sample(rows, ind.per_task, cfg.seed, task)
        ids = question_ids(task, rows)
        if task == "item_selection":
            pool = pool or ItemPool.from_genome(genome_dir)
            for qid, row in zip(ids, rows, strict=True):
                q = item_question(row, qid, pool, ind.item_options, cfg.seed)
                if isinstance(q, str):
                    dropped[qid] = q
                else:
                    questions.append(q)
            continue
        ready, skipped = pending(task, rows, ids)
        dropped.update(skipped)
        by_id = dict(zip(ids, rows, strict=True))
        waiting.extend((task, by_id[p.id], p) for p in ready)
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
