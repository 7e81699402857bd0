"""The deterministic PII safety net run after the ``clean`` model.

The model is asked to replace private information with fictitious data; whatever it misses, this
pass replaces with obviously fictitious values and counts, per kind. The recognizers live in
:mod:`humanllm.curation.pii_rules` (one module per family of shapes) and read the original text;
overlaps are resolved (URLs and emails first, then addresses and letter-digit IDs, then digit
groups; the longer span wins a tie), and every kept span is replaced in one pass:

- ``email`` -> ``jane.doe@example.com``;
- ``url`` (scheme, ``www.`` or a bare ``name.tld/path``) -> removed (the paper removes URLs);
- ``card`` (13-19 digits in card groups passing Luhn) -> ``0000 0000 0000 0000``;
- ``id_number`` (SSNs, passports, licences, national and tax ids, IBANs, card-shaped numbers
  failing Luhn, long digit runs) -> the same shape with digits as ``0`` and letters as ``X``;
- ``phone`` -> ``555-0100`` (a number reserved for fiction);
- ``address`` (street, house number and the postcode/city/state tail) -> ``12 Example Street``.

Dates, times, versions, counts grouped in thousands, scores, prices, decimals and years are left
alone (see :mod:`humanllm.curation.pii_rules.numbers`). Measured recall per kind and the share of
PII-free sentences altered: ``benchmarks/pii.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from humanllm.curation.pii_rules import Found
from humanllm.curation.pii_rules.addresses import find_addresses
from humanllm.curation.pii_rules.ids import find_ids
from humanllm.curation.pii_rules.numbers import find_numbers
from humanllm.curation.pii_rules.web import find_web

FAKE = {
    "email": "jane.doe@example.com",
    "url": "",
    "card": "0000 0000 0000 0000",
    "phone": "555-0100",
    "address": "12 Example Street",
}


@dataclass(frozen=True)
class Span:
    """A replaced span of the input: ``text[start:end]`` was ``kind`` and became ``replacement``."""

    start: int
    end: int
    kind: str
    replacement: str


@dataclass
class Scrubbed:
    text: str
    counts: Counter[str] = field(default_factory=Counter)
    spans: list[Span] = field(default_factory=list)


def _fake(kind: str, value: str) -> str:
    if kind == "id_number":
        return re.sub(r"[^\W\d_]", "X", re.sub(r"\d", "0", value))
    return FAKE[kind]


def find(text: str) -> list[Span]:
    """The PII spans of ``text``, not overlapping, in order, each with its replacement."""
    found: list[Found] = [
        *find_web(text),
        *find_addresses(text),
        *find_ids(text),
        *find_numbers(text),
    ]
    found.sort(key=lambda f: (f.priority, -(f.end - f.start), f.start))
    kept: list[Found] = []
    for f in found:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    kept.sort(key=lambda f: f.start)
    return [Span(f.start, f.end, f.kind, _fake(f.kind, text[f.start : f.end])) for f in kept]


def scrub(text: str) -> Scrubbed:
    """Replace PII in ``text`` with fictitious values; return the text, counts and spans."""
    spans = find(text)
    if not spans:
        return Scrubbed(text=text)
    pieces, at = [], 0
    for s in spans:
        pieces += [text[at : s.start], s.replacement]
        at = s.end
    pieces.append(text[at:])
    out = "".join(pieces)
    if any(s.replacement == "" for s in spans):
        out = re.sub(r"[ \t]{2,}", " ", out)
    return Scrubbed(text=out, counts=Counter(s.kind for s in spans), spans=spans)
