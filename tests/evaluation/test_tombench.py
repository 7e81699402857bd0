"""ToMBench on its genuine files (read-only; skipped when absent): NaN tokens, two-option items,
the malformed answer, ability labels, shuffling, majority vote and scoring."""

import asyncio
import json
import math
from pathlib import Path

import pytest

from humanllm.evaluation import bench_tombench
from humanllm.evaluation import tombench as tb
from humanllm.llm.base import ChatRequest, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import RunnerConfig
from humanllm.llm.scripted import ScriptedBackend

TOMBENCH = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "tombench"

needs_files = pytest.mark.skipif(
    not TOMBENCH.is_dir(), reason=f"ToMBench files not found at {TOMBENCH}"
)


@pytest.fixture(scope="module")
def english() -> tuple[list[tb.TomItem], dict[str, str]]:
    return tb.load(TOMBENCH, "en")


@needs_files
def test_bare_nan_tokens_need_a_lenient_reader() -> None:
    line = next(
        ln
        for ln in (TOMBENCH / "Faux-pas Recognition Test.jsonl").read_text("utf-8").splitlines()
        if "NaN" in ln
    )

    def strict(token: str) -> float:
        raise ValueError(f"bare {token}")

    with pytest.raises(ValueError, match="bare NaN"):
        json.loads(line, parse_constant=strict)
    data = tb.read_line(line)
    assert data["OPTION-C"] is None and data["OPTION-D"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in data.values())


@needs_files
def test_every_item_loads_with_six_categories(
    english: tuple[list[tb.TomItem], dict[str, str]],
) -> None:
    items, skipped = english
    assert len(items) == 2860 and skipped == {}
    counts = {c: sum(i.category == c for i in items) for c in tb.CATEGORIES}
    assert counts == {
        "Emotion": 420,
        "Desire": 180,
        "Intention": 340,
        "Knowledge": 290,
        "Belief": 882,
        "Non-Literal Communication": 748,  # 628 + 120 labelled "Non-literal communication"
    }
    # "Information-knowledge links " (trailing space) is one ability with the others
    abilities = {i.ability for i in items if i.category == "Knowledge"}
    assert "Knowledge: Information-knowledge links" in abilities
    assert not any(a.endswith(" ") for a in abilities)


@needs_files
def test_two_option_items_and_the_malformed_answer(
    english: tuple[list[tb.TomItem], dict[str, str]],
) -> None:
    items, _ = english
    two = [i for i in items if len(i.options) == 2]
    assert len(two) == 483  # the English side; one item has two options in Chinese only
    assert all(i.answer in (0, 1) for i in two)
    assert {len(i.options) for i in items} == {2, 4}
    malformed = next(i for i in items if i.id == "Knowledge-Attention Links:11")
    assert malformed.answer == 0 and len(malformed.options) == 4
    zh, skipped = tb.load(TOMBENCH, "zh")
    assert skipped == {} and sum(len(i.options) == 2 for i in zh) == 484
    # the Chinese options lose their "A. " labels
    assert not any(o[:2] in ("A.", "B.", "C.", "D.") for i in zh for o in i.options)


@needs_files
def test_select_limits_each_category(english: tuple[list[tb.TomItem], dict[str, str]]) -> None:
    items, _ = english
    picked = tb.select(items, 3, seed=0)
    assert len(picked) == 18
    assert {c: sum(i.category == c for i in picked) for c in tb.CATEGORIES} == dict.fromkeys(
        tb.CATEGORIES, 3
    )
    assert picked == tb.select(items, 3, seed=0) and picked != tb.select(items, 3, seed=1)


def test_vote_majority_tie_and_no_vote() -> None:
    assert tb.vote([1, 2, 1, None, 2, 1]) == 1
    assert tb.vote([2, 1, 1, 2]) == 2  # tie: the option voted first
    assert tb.vote([None, None]) is None
    assert tb.vote([None, 3]) == 3


def test_orders_are_seeded_permutations() -> None:
    item = tb.TomItem("f:1", "Belief", "Belief", "s", "q", ("w", "x", "y", "z"), 2)
    orders = [tb.order(item, t, 0) for t in range(5)]
    assert all(sorted(o) == [0, 1, 2, 3] for o in orders)
    assert len({tuple(o) for o in orders}) > 1
    assert orders == [tb.order(item, t, 0) for t in range(5)]


@needs_files
def test_run_maps_shuffled_letters_back_and_votes(
    english: tuple[list[tb.TomItem], dict[str, str]], tmp_path: Path
) -> None:
    items, _ = english
    picked = tb.select(items, 2, seed=0)
    two = next(i for i in items if len(i.options) == 2)
    picked.append(two)
    truth = {(i.story, i.question): i.options[i.answer] for i in picked}
    seen_letters: list[str] = []

    def oracle(request: ChatRequest) -> str:
        user = request.messages[-1][1]
        story = user.split("[Story]\n", 1)[1].split("\n\n[Question]\n", 1)[0]
        question, shown = user.split("[Question]\n", 1)[1].split("\n\n[Candidate answers]\n", 1)
        seen_letters.append(shown.rsplit("Reply with one of ", 1)[1])
        for line in shown.splitlines():
            if line[3:] == truth[(story, question)]:
                return f"[[{line[0]}]]"
        return "no idea"

    backend = ScriptedBackend(oracle)
    with RequestCache(tmp_path / "c.sqlite") as cache:
        graded = asyncio.run(
            tb.run(
                picked,
                language="en",
                tries=5,
                seed=0,
                backend=backend,
                cache=cache,
                sampling=Sampling(temperature=0.7, max_tokens=16),
                runner_cfg=RunnerConfig(),
            )
        )
    assert backend.calls == 5 * len(picked)
    assert "[[A]], [[B]]." in seen_letters and "[[A]], [[B]], [[C]], [[D]]." in seen_letters
    assert all(g.choices == [g.item.answer] * 5 and g.correct for g in graded)
    result = bench_tombench.results_row("oracle", "en", 5, graded)
    assert result.unparseable_replies == 0 and result.average == 1.0
    assert result.two_option_items == sum(len(i.options) == 2 for i in picked) >= 1
    assert sum(c.n for c in result.categories.values()) == len(picked) == 13
    assert result.average == pytest.approx(
        sum(c.accuracy for c in result.categories.values()) / len(result.categories)
    )


@needs_files
def test_always_a_votes_for_what_position_a_showed(
    english: tuple[list[tb.TomItem], dict[str, str]], tmp_path: Path
) -> None:
    items, _ = english
    picked = tb.select(items, 2, seed=3)
    with RequestCache(tmp_path / "c.sqlite") as cache:
        graded = asyncio.run(
            tb.run(
                picked,
                language="en",
                tries=5,
                seed=0,
                backend=ScriptedBackend(lambda r: "[[A]]"),
                cache=cache,
                sampling=Sampling(temperature=0.7, max_tokens=16),
                runner_cfg=RunnerConfig(),
            )
        )
    for g in graded:
        shown_first = [tb.order(g.item, t, 0)[0] for t in range(5)]
        assert g.choices == shown_first
        assert g.voted == tb.vote(shown_first) and g.correct == (g.voted == g.item.answer)
    res = bench_tombench.results_row("always-a", "en", 5, graded)
    assert res.unparseable_replies == 0
    assert sum(c.correct for c in res.categories.values()) == sum(g.correct for g in graded)
