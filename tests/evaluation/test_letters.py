"""Reading the letter a reply names, including junk that names none."""

import pytest

from humanllm.evaluation.letters import parse_letter

OPTIONS = ["Backpack", "Handbag", "Tote bag", "Briefcase"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("B", 1),
        ("(B)", 1),
        ("Answer: B", 1),
        ("[[B]]", 1),
        ("the answer is b.", 1),
        ("**C**", 2),
        ("b", 1),
        ("D.", 3),
        ("B. Handbag", 1),
        ("(B) Handbag", 1),
        ("B\nBecause the story says so.", 1),
        ("I choose D", 3),
        ("My answer would be (c)", 2),
        ("The answer is [[A]], since Xiaoming left the room.", 0),
        ("Tote bag", 2),  # the exact text of one option
        ("A. ", 0),  # ToMBench's one malformed answer, as a reply
        # replies of the embedded 135M model
        ("The most appropriate response is:\n\nD. The author's persona is as follows:", 3),
        ('The most appropriate response to the original narrative is "D."', 3),
        ("The most appropriate response is:\n\nB.\n\nThis is the best response to it", 1),
    ],
)
def test_parses(reply: str, expected: int) -> None:
    assert parse_letter(reply, 4, OPTIONS) == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "I think the answer is a reasonable guess",  # 'a' is an article here
        "junk text with no letter",
        "The answer is [[B]] or maybe [[C]]",  # two different bracketed letters
        "Options B and C are wrong; the answer is D",  # several cues disagree
        "Answer: Z",  # not an option
        "[[E]]",  # beyond the four options
        "Handbag or briefcase",
        "A. Backpack\nB. Handbag\nC. Tote bag",  # the options echoed
        "The most suitable response is:\n\nThe story of a mysterious event",
        'To respond with the correct letter, you need to:\n\n1. Capitalize "A" and "D", and',
    ],
)
def test_junk_is_unparseable(reply: str) -> None:
    assert parse_letter(reply, 4, OPTIONS) is None


def test_two_option_questions_accept_only_a_and_b() -> None:
    assert parse_letter("[[B]]", 2) == 1
    assert parse_letter("[[C]]", 2) is None
    assert parse_letter("C", 2) is None
