"""The shared normal forms give what each module's own ``_norm`` gave before they were merged.

The old definitions are written out here as the reference: a changed normal form changes which
rows are sampled, deduplicated or matched, so the quick start's outputs would change with it.
"""

from __future__ import annotations

import random
import re

import pytest

from humanllm.seeds import rng_for
from humanllm.text import alnum_words, fold

SAMPLES = [
    "",
    "   ",
    "The Hobbit",
    "  the   HOBBIT \n",
    "Crème Brûlée — ÉTÉ",
    "İstanbul ǅ ß straße",  # lower() changes length or splits these
    "tab\tand\u00a0nbsp\u2003em-space\u200bzwsp",
    '"B. The answer."',
    "'It is option C!'",
    "  ...!!  ",
    "Hello, world! (2nd edition) #1",
    "数字 ９ and ①",
    "a\r\nb\x0bc\x0cd\x1ce",
    "under_score & dash-ed / slash",
]


def _old_fold(text: str) -> str:  # distractors, indomain, builders, simulate/apps
    return " ".join(text.lower().split())


def _old_letters(text: str) -> str:  # evaluation/letters.py
    return " ".join(text.lower().split()).strip(" .!\"'")


def _old_social_qa(s: str) -> str:  # curation/social_qa.py
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


@pytest.mark.parametrize("text", SAMPLES)
def test_normal_forms_match_the_old_definitions(text: str) -> None:
    assert fold(text) == _old_fold(text)
    assert fold(text, trim=" .!\"'") == _old_letters(text)
    assert alnum_words(text) == _old_social_qa(text)


def test_normal_forms_differ_where_the_old_ones_did() -> None:
    # guards against merging the three into one: each is used where it was chosen
    assert fold('"Yes."') == '"yes."'
    assert fold('"Yes."', trim=" .!\"'") == "yes"
    assert alnum_words("Crème, brûlée!") == "cr me br l e"


def _old_rng_for(seed: int, *parts: object) -> random.Random:  # tasks/rows, evaluation/indomain
    import hashlib

    key = "\x1f".join(str(p) for p in (seed, *parts))
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


@pytest.mark.parametrize("parts", [(), ("sample", "item_selection"), ("quotas",), (3, "é", None)])
def test_rng_for_draws_what_the_old_one_drew(parts: tuple[object, ...]) -> None:
    for seed in (0, 7, 2**40):
        assert rng_for(seed, *parts).random() == _old_rng_for(seed, *parts).random()
    assert rng_for(1, *parts).random() != rng_for(2, *parts).random()
