"""Reading the letter a model names in a multiple-choice reply.

Accepted, in order: ``[[B]]`` (ToMBench's format; every bracketed letter must agree); a reply (or
its first line) that is the letter alone, with any brackets, bold or trailing punctuation (``B``,
``(B)``, ``**B.**``, ``b``); a letter after a cue word (``Answer: B``, ``the answer is b.``,
``Option (C)``, ``The best response is:\n\nD``, ``I choose D``); a quoted letter after "is"
(``... is "D."``); lines quoting one labelled option (``B. Handbag``, ``(B) Handbag``, ``B) ...``;
lines quoting several different options are an echo, not an answer); the exact text of one
option. Anything else is unparseable (``None``), which the scorers count as wrong and
log. A lone lower-case ``a`` inside a sentence is an article, never an answer.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from humanllm.text import fold

LETTERS = string.ascii_uppercase
#: Stripped from both ends of a reply before it is compared with the options' text.
_EDGES = " .!\"'"

_DOUBLE = re.compile(r"\[\[\s*([A-Za-z])\s*\]\]")
_ALONE = re.compile(r"^[\s*_`'\"(\[{<]*([A-Za-z])[\s*_`'\")\]}>.:,;!]*$")
_CUE = re.compile(
    r"\b(?:answer|option|choice|candidate|response|choose|chose|pick|select|letter)s?\b"
    r"(?:\s+(?:is|would\s+be|will\s+be|should\s+be|=))?\s*[:\-]?\s*"
    r"[*_`'\"(\[]*([A-Za-z])(?![A-Za-z])",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"\bis\s+[\"'(\[*]+([A-Z])[\"')\]*.]")
_LABELLED = re.compile(r"^[\s*_`'\"]*[(\[]?([A-Z])\s*[.):\]](?:\s|$)")


def letter_index(letter: str, n_options: int) -> int | None:
    """0-based index of ``letter`` (any case) among ``n_options`` options, or None."""
    if len(letter) != 1 or not letter.isalpha():
        return None
    i = LETTERS.index(letter.upper())
    return i if i < n_options else None


def _cues(text: str) -> set[str]:
    """Letters named after a cue word; a lower-case letter followed by a word is an article."""
    found = set()
    for m in _CUE.finditer(text):
        letter = m.group(1)
        if letter.islower() and re.match(r"\s+[A-Za-z]", text[m.end() :]):
            continue
        found.add(letter.upper())
    return found


def parse_letter(text: str, n_options: int, options: Sequence[str] = ()) -> int | None:
    """The 0-based option a reply names, or None when it names none (or several)."""
    if not text or not text.strip():
        return None
    doubles = {m.upper() for m in _DOUBLE.findall(text)}
    if doubles:
        return letter_index(doubles.pop(), n_options) if len(doubles) == 1 else None
    first_line = text.strip().splitlines()[0]
    m = _ALONE.match(text) or _ALONE.match(first_line)
    if m:
        return letter_index(m.group(1), n_options)
    cues = {c for c in _cues(text) if letter_index(c, n_options) is not None}
    if len(cues) == 1:
        return letter_index(cues.pop(), n_options)
    if len(cues) > 1:
        return None
    quoted = {q for q in _QUOTED.findall(text) if letter_index(q, n_options) is not None}
    if len(quoted) == 1:
        return letter_index(quoted.pop(), n_options)
    labelled = {m.group(1) for line in text.splitlines() if (m := _LABELLED.match(line))}
    labelled = {x for x in labelled if letter_index(x, n_options) is not None}
    if len(labelled) == 1:  # one option quoted as "D. ..." (several: the options echoed)
        return letter_index(labelled.pop(), n_options)
    if options:
        reply = fold(text, trim=_EDGES)
        hits = [i for i, o in enumerate(options) if fold(o, trim=_EDGES) == reply]
        if len(hits) == 1:
            return hits[0]
    return None
