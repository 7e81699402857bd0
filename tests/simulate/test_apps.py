"""The Python API: every application, its prompt, sampling, select validation, sync/async use."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from humanllm.llm.base import ChatRequest, TransientError
from humanllm.llm.scripted import ScriptedBackend
from humanllm.simulate import SelectionError, Simulator
from humanllm.simulate.apps import parse_selection
from humanllm.simulate.schemas import Review
from humanllm.tasks import prompts as P

PERSONA = "A nurse in Leeds who cooks for her two kids."


def sent(backend: ScriptedBackend, i: int = -1) -> P.Prompt:
    messages = backend.requests[i].messages
    assert [role for role, _ in messages] == ["system", "user"]
    return P.Prompt(messages[0][1], messages[1][1])


def test_profile_samples_n_with_distinct_seeds(scripted: ScriptedBackend) -> None:
    with Simulator(scripted) as sim:
        out = sim.profile(PERSONA, n=3, seed=10)
    assert out.application == "profile" and out.model == "scripted-test"
    assert [s.seed for s in out.samples] == [10, 11, 12]
    assert out.texts == [f"simulated (You understand people) seed={s}" for s in (10, 11, 12)]
    assert sent(scripted) == P.profile_generation(PERSONA)
    assert {r.sampling.temperature for r in scripted.requests} == {0.7}  # the paper's default
    assert out.prompt.human == P.profile_generation(PERSONA).human
    assert scripted.closed


def test_explain_write_comment_scenario_use_the_task_prompts(scripted: ScriptedBackend) -> None:
    sim = Simulator(scripted)
    sim.explain("Her shift is extended.", "How does she feel?", profile="Works nights.", n=1)
    assert sent(scripted) == P.social_qa(
        "Her shift is extended.", "How does she feel?", profile="Works nights."
    )
    sim.write("school lunches", "tweet", samples=["first", "second"], style="Short.")
    assert sent(scripted) == P.writing_imitation(
        "school lunches", "tweet", history=["first", "second"], writing_style="Short."
    )
    sim.comment(
        "New rice cooker", ["Good box", Review(item="Lamp", text="Dim.", rating=3)], kind="review"
    )
    assert sent(scripted) == P.personalized_commenting(
        "New rice cooker",
        [P.Review("an item", "Good box"), P.Review("Lamp", "Dim.", 3.0)],
        kind="review",
    )
    out = sim.scenario(["Ann: a nurse", ("Bo", "her son")], "a Sunday", "Leeds", temperature=0.2)
    assert sent(scripted) == P.scenario_generation(
        [("Ann", "a nurse"), ("Bo", "her son")], "a Sunday", "Leeds"
    )
    assert scripted.requests[-1].sampling.temperature == 0.2
    assert out.samples[0].finish_reason == "stop"
    sim.close()


def test_select_returns_a_candidate(scripted: ScriptedBackend) -> None:
    with Simulator(scripted) as sim:
        out = sim.select(["Tea", "Rice cooker", "Lamp"], ["Lunch box"], persona=PERSONA, n=2)
    assert sent(scripted) == P.item_selection(
        ["Tea", "Rice cooker", "Lamp"], [P.Review("Lunch box")], persona=PERSONA
    )
    assert out.items == ["Rice cooker", "Rice cooker"]
    assert [s.choice for s in out.samples] == [1, 1] and out.samples[0].attempts == 1


def test_select_reasks_with_new_seeds_then_fails_clearly() -> None:
    replies = iter(["I like none of them", "Hmm", "C. Lamp"])
    backend = ScriptedBackend(lambda r: next(replies))
    sim = Simulator(backend, select_attempts=4)
    out = sim.select(["Tea", "Rice cooker", "Lamp"], persona=PERSONA, seed=5)
    assert out.samples[0].item == "Lamp" and out.samples[0].attempts == 3
    assert [r.sampling.seed for r in backend.requests] == [5, 6, 7]  # n=1: seed + attempt
    never = ScriptedBackend(lambda r: "Z. Something else")
    with pytest.raises(SelectionError, match="none of the 2 candidates in 2 replies"):
        Simulator(never, select_attempts=2).select(["Tea", "Lamp"], persona=PERSONA)
    assert never.calls == 2


def test_select_reask_seeds_do_not_collide_across_samples() -> None:
    backend = ScriptedBackend(lambda r: "B" if r.sampling.seed >= 2 else "no idea")
    out = Simulator(backend).select(["x", "y"], persona="p", n=2, seed=0)
    assert sorted(r.sampling.seed for r in backend.requests) == [0, 1, 2, 3]
    assert [s.seed for s in out.samples] == [2, 3] and out.items == ["y", "y"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("B. Rice cooker", 1),
        ("b", None),  # letters are capitals, as trained
        ("(C) Lamp", 2),
        ("I would pick the rice cooker.", 1),  # no letter: the one title it names
        ("Desk lamp please", 3),  # nested titles: the longest
        ("Tea or Lamp", None),  # two titles: ambiguous
        ("E. Kettle", None),  # a letter past the candidates
    ],
)
def test_parse_selection(reply: str, expected: int | None) -> None:
    assert parse_selection(reply, ["Tea", "Rice cooker", "Lamp", "Desk lamp"]) == expected


def test_invalid_inputs_are_validation_errors(scripted: ScriptedBackend) -> None:
    sim = Simulator(scripted)
    with pytest.raises(ValidationError, match="persona or a profile"):
        sim.explain("s", "q", persona="  ")
    with pytest.raises(ValidationError, match="samples"):
        sim.write("topic", "tweet")
    with pytest.raises(ValidationError, match="at least 2"):
        sim.select(["only one"], persona="p")
    with pytest.raises(ValidationError):
        sim.profile("p", n=0)
    assert scripted.calls == 0


def test_async_methods_and_sync_inside_a_loop(scripted: ScriptedBackend) -> None:
    async def main() -> None:
        async with Simulator(scripted) as sim:
            outs = await asyncio.gather(sim.aprofile("a"), sim.aexplain("s", "q", persona="p"))
            assert [o.application for o in outs] == ["profile", "explain"]
            with pytest.raises(RuntimeError, match="aprofile"):
                sim.profile("inside a loop")

    asyncio.run(main())


def test_transient_failures_are_retried() -> None:
    backend = ScriptedBackend(lambda r: "ok", transient_failures=1)
    assert Simulator(backend).profile("p").texts == ["ok"]
    assert backend.injected == 1


def test_samples_run_concurrently() -> None:
    backend = ScriptedBackend(lambda r: "ok", delay_s=0.05)
    Simulator(backend).profile("p", n=6)
    assert backend.max_in_flight == 6


def test_default_max_tokens_per_application(scripted: ScriptedBackend) -> None:
    sim = Simulator(scripted)
    sim.select(["a", "b"], persona="p")
    sim.profile("p", max_tokens=33)
    budgets = [r.sampling.max_tokens for r in scripted.requests]
    assert budgets == [64, 33]


def test_transient_error_after_retries_propagates() -> None:
    def always(_: ChatRequest) -> BaseException:
        return TransientError("down", retry_after=0.0)

    with pytest.raises(TransientError):
        Simulator(ScriptedBackend(always)).profile("p")


def test_a_failing_sample_cancels_the_others() -> None:
    def reply(r: ChatRequest) -> str:
        return "nothing" if r.sampling.seed == 0 else "B"

    slow = ScriptedBackend(reply, delay_s=0.01)
    with pytest.raises(SelectionError):
        Simulator(slow, select_attempts=1).select(["x", "y"], persona="p", n=3, seed=0)
    assert slow.in_flight == 0
