import pytest

from humanllm.tasks import prompts as P


def test_every_prompt_is_system_and_human_text_holding_its_inputs() -> None:
    cases = [
        (P.profile_generation("A calm gardener."), ["A calm gardener."]),
        (
            P.scenario_generation([("Ann", "the author"), ("Bo", "")], "spring", "garden"),
            ["- Ann: the author", "- Bo", "Time: spring", "Place: garden"],
        ),
        (
            P.social_qa("In the garden.", "What next?", persona="Calm."),
            ["Calm.", "In the garden.", "Question: What next?"],
        ),
        (
            P.writing_imitation("Beans", "tweet", history=["one", "two"]),
            ["[1] one", "[2] two", "new tweet", "Beans"],
        ),
        (
            P.writing_imitation("Beans", "blog post", writing_style="Dry."),
            ["Dry.", "new blog post"],
        ),
        (
            P.personalized_commenting("Title: Hose", [P.Review("Rake", "Good rake.", 4.0)]),
            ["On: Rake (rated 4/5)", "Good rake.", "Title: Hose", "review"],
        ),
        (
            P.item_selection(["Hose", "Rake"], [P.Review("Spade", rating=5)], profile="Keen."),
            ["Keen.", "- Spade (rated 5/5)", "A. Hose", "B. Rake"],
        ),
        (P.text_completion("Once upon", "Reddit post"), ["Once upon", "Reddit post"]),
    ]
    for prompt, parts in cases:
        system, human = prompt
        assert system.strip() and human.strip()
        for part in parts:
            assert part in human, (part, human)


def test_prompts_refuse_missing_inputs() -> None:
    with pytest.raises(ValueError, match="persona or a profile"):
        P.social_qa("s", "q")
    with pytest.raises(ValueError, match="earlier texts or a writing-style"):
        P.writing_imitation("t", "tweet")
    with pytest.raises(ValueError, match="at least one earlier"):
        P.personalized_commenting("item", [])
    with pytest.raises(ValueError, match="2 to 26 candidates"):
        P.item_selection([f"x{i}" for i in range(27)], [], persona="p")


def test_item_choice_and_parse_choice_round_trip() -> None:
    assert P.item_choice(2, "  Garden   hose ") == "C. Garden hose"
    for i in range(20):
        assert P.parse_choice(P.item_choice(i, "A thing"), 20) == i
    assert P.parse_choice("T", 20) == 19
    assert P.parse_choice("(b) Rake", 20) is None  # lower case is not a label
    assert P.parse_choice("A great rake", 20) is None
    assert P.parse_choice("Z. x", 20) is None


def test_persona_and_profile_can_both_be_given() -> None:
    _, human = P.social_qa("s", "q", persona="P1", profile="P2")
    assert "Persona of the person:\nP1" in human and "Profile of the person:\nP2" in human
