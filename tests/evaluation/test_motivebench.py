"""MotiveBench on files written in its format: loading, the six fixed orders, scoring."""

import asyncio
from pathlib import Path

import pytest

from humanllm.evaluation import bench_motivebench
from humanllm.evaluation import motivebench as mb
from humanllm.llm.base import ChatRequest, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.scripted import ScriptedBackend
from tests.evaluation.fixtures import knowing, labelled, write_motivebench


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_motivebench(tmp_path / "mb")
    return tmp_path / "mb"


def run(folder: Path, reply: object, tmp_path: Path, **kw: object) -> list[mb.Answered]:
    questions, problems = mb.load(folder, **kw)  # type: ignore[arg-type]
    assert problems == []
    backend = ScriptedBackend(reply)  # type: ignore[arg-type]
    with RequestCache(tmp_path / "cache.sqlite") as cache:
        return asyncio.run(
            mb.run(
                questions,
                orders=6,
                backend=backend,
                cache=cache,
                sampling=Sampling(temperature=0.0, max_tokens=8),
                runner_cfg=RunnerConfig(),
            )
        )


def test_load_reads_lists_and_strings_and_names_subsets(folder: Path) -> None:
    questions, problems = mb.load(folder)
    assert problems == []
    assert len(questions) == (2 + 2 + 3) * 3
    assert {q.subset for q in questions} == {"Amazon", "Blogger", "Persona"}
    blog = [q for q in questions if q.subset == "Blogger"]  # options given as one string
    assert all(len(q.options) == 6 and not q.options[0].startswith("A.") for q in blog)
    assert {q.qtype: q.answer for q in questions[:3]} == {
        "Motivation": 0,
        "Behavior": 2,
        "Motivation & Behavior": 5,
    }
    assert len(mb.load(folder, limit=1)[0]) == 9


def test_six_orders_put_the_answer_once_at_every_position() -> None:
    orders = [mb.shift(6, k) for k in range(6)]
    for right in range(6):
        assert sorted(o.index(right) for o in orders) == list(range(6))


def test_always_a_scores_one_sixth_everywhere(folder: Path, tmp_path: Path) -> None:
    answered = run(folder, lambda r: "A", tmp_path)
    assert len(answered) == 21 * 6
    res = bench_motivebench.results_row("always-a", 6, answered)
    assert res.subsets == pytest.approx({"Amazon": 1 / 6, "Blogger": 1 / 6, "Persona": 1 / 6})
    assert res.average == pytest.approx(1 / 6)
    assert all(v == pytest.approx(1 / 6) for v in res.question_types.values())
    assert res.questions == {"Amazon": 6, "Blogger": 6, "Persona": 9}


def test_scores_per_type_and_subset(folder: Path, tmp_path: Path) -> None:
    def motivation_only(request: ChatRequest) -> str:
        if "Motivation Reasoning Question" in request.messages[-1][1]:
            return knowing(request)
        return "I cannot tell"

    answered = run(folder, motivation_only, tmp_path)
    res = bench_motivebench.results_row("m", 6, answered)
    assert res.question_types == {"Motivation": 1.0, "Behavior": 0.0, "Motivation & Behavior": 0.0}
    assert res.subsets == pytest.approx(dict.fromkeys(("Amazon", "Blogger", "Persona"), 1 / 3))
    assert res.cells["Persona"] == {
        "Motivation": 1.0,
        "Behavior": 0.0,
        "Motivation & Behavior": 0.0,
    }
    assert res.unparseable_replies == 21 * 6 * 2 // 3
    wrong = next(a for a in answered if a.question.qtype == "Behavior")
    assert wrong.choice is None and not wrong.correct


def test_prompt_lists_six_labelled_options(folder: Path) -> None:
    questions, _ = mb.load(folder)
    messages = mb.render(mb.template(), questions[0], mb.shift(6, 2))
    request = ChatRequest(messages=messages)
    shown = labelled(request)
    assert list(shown) == list("ABCDEF")
    assert shown["E"].startswith("RIGHT")  # the right option (A) shifted by two
