"""Building the in-domain questions: 20-way item selection, 8-way with generated distractors."""

import asyncio
import json
import re
from pathlib import Path

import pytest

from humanllm.evaluation import indomain
from humanllm.evaluation.config import DistractorSpec, EvaluateConfig
from humanllm.evaluation.mc import REAL, load_questions, render_letter, save_questions, template
from humanllm.llm.base import ChatRequest
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.scripted import ScriptedBackend
from humanllm.tasks.prompts import item_choice
from tests.evaluation.fixtures import GENERATED, USERS, owned, write_genome, write_tasks

ASKED: list[str] = []


def writer(request: ChatRequest) -> str:
    """A distinct answer per request; the first answer to social QA 0 repeats the real one."""
    prompt = request.messages[-1][1]
    ASKED.append(prompt)
    if prompt.startswith("Task social_qa number 0") and ASKED.count(prompt) == 1:
        return "real answer 0 of social_qa,   as the person wrote it."  # same up to case/spaces
    if prompt.startswith("Task writing_imitation number 2"):
        return "   "  # always empty: this question cannot get its distractors
    return f"Another answer to: {prompt[:30]} (seed {request.sampling.seed})"


def build(root: Path, seed: int = 0, **kw: object) -> indomain.BuiltSet:
    cfg = EvaluateConfig(
        seed=seed,
        distractor_models=[DistractorSpec(backend="w"), DistractorSpec(backend="w", seed=100)],
        **kw,
    )  # type: ignore[arg-type]
    backend = ScriptedBackend(writer)
    with RequestCache(root / "cache.sqlite") as cache:
        return asyncio.run(
            indomain.build_questions(
                root / "tasks",
                root / "genome",
                cfg,
                distractor_backends=[backend, backend],
                cache=cache,
                runner_cfg=RunnerConfig(),
                describe=str,
            )
        )


@pytest.fixture(scope="module")
def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run")
    write_tasks(root)
    write_genome(root)
    return root


@pytest.fixture(scope="module")
def built(run_root: Path) -> indomain.BuiltSet:
    return build(run_root)


def test_item_selection_is_20_way_without_history_items(built: indomain.BuiltSet) -> None:
    items = [q for q in built.questions if q.task == "item_selection"]
    assert len(items) == 3
    for q in items:
        assert len(q.options) == 20 and len(set(q.options)) == 20
        assert q.origins.count(REAL) == 1 and q.origins[q.answer] == REAL
        assert q.options[q.answer] == f"Item number {int(owned(q.user_id)[-1][1:])}"
        negatives = {o.split(":", 1)[1] for o in q.origins if o.startswith("pool:")}
        assert len(negatives) == 19 and not negatives & set(owned(q.user_id))
        # the prompt lists exactly these candidates, labelled as the tasks label them
        listed = [ln for ln in q.prompt.splitlines() if re.match(r"^[A-Z]\. ", ln)]
        assert listed == [item_choice(k, t) for k, t in enumerate(q.options)] == q.continuations
        assert q.native and render_letter(template(), q)[-1][1] == q.prompt


def test_generated_tasks_are_8_way_with_distinct_distractors(built: indomain.BuiltSet) -> None:
    for task in GENERATED:
        qs = [q for q in built.questions if q.task == task]
        assert qs, task
        for q in qs:
            assert len(q.options) == 8 and len({o.lower() for o in q.options}) == 8
            assert sum("REAL" in o for o in q.options) == 1
            assert "REAL" in q.options[q.answer] and q.origins[q.answer] == REAL
            writers = {o.split("#")[0] for o in q.origins if o != REAL}
            assert writers == {"w"}
            assert {o.split("#seed")[1] for o in q.origins if o != REAL} == {
                "0",
                "1",
                "2",
                "3",
                "100",
                "101",
                "102",
            }


def test_a_duplicate_is_asked_again_and_an_empty_slot_drops_the_question(
    built: indomain.BuiltSet,
) -> None:
    qa0 = next(q for q in built.questions if q.id == "social_qa/reddit/social_qa-0")
    assert sum("answer 0 of social_qa" in o for o in qa0.options) == 1
    assert ASKED.count(qa0.prompt) == 8  # seven slots, one asked again
    assert "writing_imitation/reddit/writing_imitation-2" in built.dropped
    assert not any(q.id.endswith("writing_imitation-2") for q in built.questions)
    assert built.available == dict.fromkeys([*GENERATED, "item_selection"], 3)


def test_option_order_is_seeded(run_root: Path, built: indomain.BuiltSet) -> None:
    again = build(run_root)
    assert [q.model_dump() for q in again.questions] == [q.model_dump() for q in built.questions]
    other = build(run_root, seed=7)
    firsts = [q.answer for q in built.questions]
    assert [q.answer for q in other.questions] != firsts
    for a, b in zip(built.questions, other.questions, strict=True):
        assert a.options[a.answer] == b.options[b.answer]  # same real answer, other position


def test_letter_prompt_fences_task_and_options(built: indomain.BuiltSet) -> None:
    q = next(q for q in built.questions if q.task == "profile_generation")
    system, user = render_letter(template(), q)
    assert "BEGIN DATA" in user[1] and "(options)" in user[1] and user[1].endswith("(A-H) only.")
    assert system[0] == "system"


def test_save_and_load_round_trip(tmp_path: Path, built: indomain.BuiltSet) -> None:
    counts = save_questions(tmp_path / "mc", built.questions)
    assert counts["item_selection"] == 3
    loaded = load_questions(tmp_path / "mc")
    assert sorted(q.id for q in loaded) == sorted(q.id for q in built.questions)


def test_per_task_sample_is_seeded(run_root: Path) -> None:
    small = build(run_root, in_domain={"per_task": 2, "tasks": ["social_qa", "item_selection"]})
    assert [q.task for q in small.questions] == ["social_qa"] * 2 + ["item_selection"] * 2


def test_rows_of_the_real_item_selection_builder(tmp_path: Path) -> None:
    """The tasks stage's own item-selection rows become 20-way questions, history excluded."""
    from datetime import UTC, datetime, timedelta

    import polars as pl

    from humanllm.tasks.builders import item_selection
    from humanllm.tasks.inputs import Genome
    from humanllm.tasks.rows import BuildOptions

    t0 = datetime(2021, 1, 1, tzinfo=UTC)
    users = pl.DataFrame(
        [
            {
                "source": "amazon",
                "user_id": u,
                "persona": f"Persona {u}",
                "profile": "",
                "writing_style": "",
            }
            for u in USERS
        ]
    )
    records = pl.DataFrame(
        [
            {
                "source": "amazon",
                "record_id": f"{u}-{k}",
                "user_id": u,
                "created_at": t0 + timedelta(days=k),
                "text": "fine",
                "title": None,
                "meta": f'{{"parent_asin": "{i}", "rating": 4}}',
            }
            for u in USERS
            for k, i in enumerate(owned(u))
        ]
    )
    items = pl.DataFrame(
        {
            "source": ["amazon"] * 40,
            "item_id": [f"i{i:02d}" for i in range(40)],
            "title": [f"Item number {i}" for i in range(40)],
            "main_category": [""] * 40,
            "description": [""] * 40,
            "features": [""] * 40,
            "price": [1.0] * 40,
        }
    )
    g = Genome(
        users, records, pl.DataFrame(), pl.DataFrame(), items
    )  # the builder reads no scenarios
    rows = item_selection(g, BuildOptions(kinds={"amazon": "amazon"})).rows
    assert rows and all(len(r["candidates"]) == 20 for r in rows)
    root = tmp_path
    (root / "tasks" / "item_selection").mkdir(parents=True)
    (root / "tasks" / "item_selection" / "test.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows)
    )
    write_genome(root)
    got = build(root, in_domain={"tasks": ["item_selection"], "per_task": None}).questions
    assert len(got) == len(rows)
    for q, row in zip(got, rows, strict=True):
        true = row["conversations"][1]["value"].split(". ", 1)[1]
        assert q.options[q.answer] == true and q.options.count(true) == 1
        assert not {o.split(":", 1)[1] for o in q.origins if o != REAL} & set(owned(q.user_id))
        assert q.prompt.startswith(row["conversations"][0]["value"].split("Candidates:")[0])


def test_loglik_scoring_shows_progress(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Scoring options by log-likelihood reports progress like every runner call (it had none)."""
    from humanllm.evaluation.loglik import LoglikCache
    from humanllm.evaluation.mc import MCQuestion, score_loglik

    class Scorer:
        def loglikelihoods(self, messages, options):  # type: ignore[no-untyped-def]
            return [-float(len(o)) for o in options]

    qs = [
        MCQuestion.model_validate(
            {
                "id": f"q{i}",
                "task": "social_qa",
                "prompt": "Which answer?",
                "options": ["a short one", "a much longer option"],
                "continuations": ["a short one", "a much longer option"],
                "answer": 0,
                "origins": ["real", "writer"],
            }
        )
        for i in range(2)
    ]
    with LoglikCache(tmp_path / "ll.sqlite") as cache:
        preds = score_loglik(qs, scorer=Scorer(), model_id="m", cache=cache)
    assert [p.choice for p in preds] == [0, 0]
    assert "evaluate.loglik: 2/2 (100%)" in capsys.readouterr().err
