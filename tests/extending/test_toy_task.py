"""A task added from outside the package: this module registers a toy task (its builder, prompt
and question maker) and runs it through the ``tasks`` stage and the in-domain part of
``evaluate``, editing no package file."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from humanllm.config import RunConfig, validate_config
from humanllm.evaluation import models
from humanllm.evaluation.mc import REAL, MCQuestion
from humanllm.evaluation.results import EvalResults
from humanllm.evaluation.stage import run_evaluate
from humanllm.llm.scripted import ScriptedBackend
from humanllm.seeds import rng_for
from humanllm.stage import StageContext
from humanllm.tasks.inputs import Genome
from humanllm.tasks.prompts import Prompt
from humanllm.tasks.registry import registered, task_names
from humanllm.tasks.rows import BuildOptions, Built, sharegpt, text
from humanllm.tasks.stage import run_tasks
from humanllm.tasks.task import QuestionContext, Task
from tests.evaluation.fixtures import knowing
from tests.tasks.genome import genome_run, tables

NAME = "favourite_word"


def prompt(persona: str) -> Prompt:
    return Prompt(
        "You guess the one word a person would call their favourite.",
        f"Persona:\n{persona.strip()}\n\nWhich word is this person's favourite?",
    )


def build(g: Genome, o: BuildOptions) -> Built:
    """One row per user with a persona; the reply marks itself RIGHT for the scripted model."""
    out = Built()
    for u in g.users.to_dicts():
        persona = text(u["persona"])
        if not persona:
            out.skipped["user without persona"] += 1
            continue
        reply = f"RIGHT {persona.split()[-1].strip('.')}"
        out.rows.append(
            sharegpt(
                prompt(persona),
                reply,
                task=NAME,
                source=u["source"],
                user_id=u["user_id"],
                ref=u["user_id"],
            )
        )
    return out


def questions(
    rows: Sequence[dict[str, Any]], ids: Sequence[str], ctx: QuestionContext
) -> list[MCQuestion | str]:
    """Two-way: the real reply and a fixed wrong word, in a seeded order."""
    out: list[MCQuestion | str] = []
    for qid, row in zip(ids, rows, strict=True):
        human = row["conversations"][0]["value"]
        real = row["conversations"][1]["value"]
        options = [(real, REAL), ("umbrella", "fixed")]
        rng_for(ctx.seed, NAME, qid).shuffle(options)
        texts = [t for t, _ in options]
        out.append(
            MCQuestion(
                id=qid,
                task=NAME,
                source=row["source"],
                user_id=row["user_id"],
                ref=row["ref"],
                system=row["system"],
                prompt=human,
                options=texts,
                continuations=texts,
                answer=next(i for i, (_, o) in enumerate(options) if o == REAL),
                origins=[o for _, o in options],
            )
        )
    return out


TOY = Task(name=NAME, build=build, label="Favourite Word", questions=questions)


@pytest.fixture
def toy() -> Iterator[Task]:
    with registered(TOY) as task:
        yield task


def fake_make_backend(cfg: Any) -> Any:
    replies = {
        "base": lambda r: "I would rather not say.",
        "tuned": knowing,
        "writer": lambda r: f"A made-up answer, seed {r.sampling.seed}.",
    }[cfg.name]
    return ScriptedBackend(replies, model_id=cfg.name)


def run_config() -> RunConfig:
    return validate_config(
        {
            "sources": [{"kind": s, "path": "x"} for s in ("reddit", "blogger", "amazon")],
            "tasks": {"test_fraction": 0.3},
            "llm": {
                "backends": {
                    n: {"kind": "scripted", "name": n} for n in ("base", "tuned", "writer")
                }
            },
            "evaluate": {
                "models": [
                    {"name": "Base", "backend": "base"},
                    {"name": "Tuned", "backend": "tuned", "base": "Base"},
                ],
                "scoring": ["letter"],
                "distractor_models": ["writer"],
                "in_domain": {"per_task": 2},
                "judge": {"backend": "writer", "samples": 0},
            },
        }
    )


def test_a_registered_task_is_built_and_asked_in_domain(
    toy: Task, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert task_names()[-1] == NAME
    cfg = run_config()
    assert cfg.evaluate.in_domain.tasks[-1] == NAME  # asked by default, after Table 1's five
    run = genome_run(tmp_path / "run", cfg, tables(users_per_source=4))
    quiet = Console(file=io.StringIO())
    extra = run_tasks(StageContext(cfg=cfg, run=run, stage="tasks", console=quiet)).extra

    out = run.stage_dir("tasks")
    split = {}
    for name in ("train", "test"):
        path = out / NAME / f"{name}.jsonl"
        split[name] = [json.loads(line) for line in path.read_text().splitlines()]
        assert split[name] and all(r["task"] == NAME for r in split[name])
    users = {s: {(r["source"], r["user_id"]) for r in split[s]} for s in split}
    assert len(split["train"]) + len(split["test"]) == 12  # one row per user of the genome
    assert not users["train"] & users["test"]  # split by user, like every task
    first = split["test"][0]
    asked = prompt(f"Persona of {first['user_id']}: a calm gardener.")
    assert first["system"] == asked.system and first["conversations"][0]["value"] == asked.human
    assert first["conversations"][1]["value"] == "RIGHT gardener"
    assert extra["tasks"][NAME]["test"] and f"{NAME}_train" in json.loads(
        (out / "dataset_info.json").read_text()
    )

    monkeypatch.setattr(models, "make_backend", fake_make_backend)
    run_evaluate(StageContext(cfg=cfg, run=run, stage="evaluate", console=quiet))
    res = EvalResults.read((tmp_path / "run" / "eval") / "results.json")
    by = {(r.model, r.scoring): r for r in res.in_domain}
    tuned, base = by[("Tuned", "letter")].tasks[NAME], by[("Base", "letter")].tasks[NAME]
    assert tuned.n == base.n == min(2, len(split["test"]))
    assert tuned.accuracy_pct == 100.0 and base.accuracy_pct == 0.0 and tuned.n_options == 2
    mc = (tmp_path / "run" / "eval") / "mc" / f"{NAME}.jsonl"
    asked = [json.loads(line) for line in mc.read_text().splitlines()]
    assert {q["task"] for q in asked} == {NAME} and all("umbrella" in q["options"] for q in asked)


def test_the_toy_task_is_gone_once_unregistered() -> None:
    assert NAME not in task_names()
