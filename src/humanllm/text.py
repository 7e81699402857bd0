"""Text normalisation for comparing strings (dedup, matching a reply to an option, leak checks).

Two normal forms, each used where it was chosen; changing either changes which rows are sampled,
deduplicated or matched, so both are pinned by ``tests/test_text.py``.
"""

from __future__ import annotations

import re

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def fold(text: str, *, trim: str = "") -> str:
    """``text`` lower-cased with every whitespace run made one space and the ends stripped;
    then the characters of ``trim`` stripped from both ends (e.g. a reply's quotes and full stop)."""
    folded = " ".join(text.lower().split())
    return folded.strip(trim) if trim else folded


def alnum_words(text: str) -> str:
    """``text`` lower-cased with every run of characters other than ASCII ``a-z0-9`` made one
    space, ends stripped: equal for strings that differ only in case, punctuation and spacing."""
    return _NOT_ALNUM.sub(" ", text.lower()).strip()
