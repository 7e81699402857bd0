"""The recognizers behind :mod:`humanllm.curation.pii`, one module per family of shapes.

Each recognizer reads the original text and returns :class:`Found` spans; ``pii.find`` resolves
overlaps and ``pii.scrub`` replaces what remains. ``measure`` scores them on the committed sets.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Latin letters with their accented forms, for street and city names across Europe and the Americas.
UPPER = "A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĞĪĮİĹĽŁŃŇŌŐŒŔŘŚŞŠŢŤŪŮŰŲŹŻŽ"
LOWER = "a-zß-öø-ÿāăąćčďđēėęěğīįıĺľłńňōőœŕřśşšţťūůűųźżž"
NAME = rf"[{UPPER}][{LOWER}{UPPER}'’-]*\.?"  # a capitalised word, maybe abbreviated


@dataclass(frozen=True)
class Found:
    """A span of the original text that a recognizer takes for PII of ``kind``."""

    start: int
    end: int
    kind: str
    #: lower wins when two spans overlap (URLs and emails before the numbers inside them)
    priority: int


def context_before(text: str, start: int, width: int = 32) -> str:
    """The ``width`` characters before ``start``, lower-cased (for keyword cues)."""
    return text[max(0, start - width) : start].lower()
