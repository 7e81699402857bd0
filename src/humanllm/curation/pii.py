"""The deterministic PII safety net run after the ``clean`` model.

The model is asked to replace private information with fictitious data; whatever it misses, this
pass replaces with obviously fictitious values and counts, per kind:

- ``email``: ``name@domain.tld`` -> ``jane.doe@example.com``
- ``url``: ``http(s)://...``, ``www....`` -> removed (the paper removes URLs)
- ``card``: 13-19 digits in groups (credit/debit cards, passing the Luhn check) -> ``0000 0000 0000 0000``
- ``id_number``: US SSN ``123-45-6789`` and long digit runs (9-12 digits, e.g. national ids,
  account numbers) -> ``000-00-0000`` / a run of zeros of the same length
- ``phone``: international ``+CC ...`` and national formats with 9-15 digits in groups, incl.
  ``(555) 123-4567`` -> ``555-0100`` (a number reserved for fiction)
- ``address``: a house number + up to four capitalised words + a street suffix (Street, St., Road,
  Ave, Lane, Drive, Boulevard, ...), optionally ``Apt/Suite/Unit N`` -> ``12 Example Street``

Order matters: URLs and emails first (they contain digits and dots), then cards, ids, phones,
addresses. Years (``1999``), times (``10:30``), prices (``$12.99``) and short numbers are left alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_LONG_DIGITS = re.compile(r"(?<![\d.,$€£])\b\d{9,12}\b(?![.,]\d)")
_PHONE = re.compile(
    r"(?<![\w$€£])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{1,5}(?:[\s.-]\d{1,6}){1,5}(?![\w])"
)
_STREET_SUFFIX = (
    r"(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Dr\.?|Boulevard|Blvd\.?|Court|Ct\.?|"
    r"Place|Pl\.?|Way|Terrace|Close|Crescent|Highway|Hwy\.?|Parkway|Pkwy\.?|Square|Sq\.?)"
)
_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\.?\s+){1,4}" + _STREET_SUFFIX + r"(?![A-Za-z])"
    r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Unit|#)\s*\w+)?"
)

FAKE = {
    "email": "jane.doe@example.com",
    "url": "",
    "card": "0000 0000 0000 0000",
    "ssn": "000-00-0000",
    "phone": "555-0100",
    "address": "12 Example Street",
}


def _luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def _digit_count(s: str) -> int:
    return sum(c.isdigit() for c in s)


@dataclass
class Scrubbed:
    text: str
    counts: Counter[str] = field(default_factory=Counter)


def scrub(text: str) -> Scrubbed:
    """Replace PII in ``text`` with fictitious values; return the text and counts per kind."""
    counts: Counter[str] = Counter()

    def sub(pattern: re.Pattern[str], kind: str, text: str, accept=None, fake=None) -> str:  # type: ignore[no-untyped-def]
        def repl(m: re.Match[str]) -> str:
            s = m.group(0)
            if accept is not None and not accept(s):
                return s
            counts[kind] += 1
            return fake(s) if fake else FAKE[kind]

        return pattern.sub(repl, text)

    text = sub(_URL, "url", text)
    text = sub(_EMAIL, "email", text)
    text = sub(_CARD, "card", text, accept=lambda s: _luhn_ok(re.sub(r"\D", "", s)))
    text = sub(_SSN, "id_number", text, fake=lambda s: FAKE["ssn"])
    text = sub(_LONG_DIGITS, "id_number", text, fake=lambda s: "0" * len(s))
    text = sub(
        _PHONE, "phone", text, accept=lambda s: 9 <= _digit_count(s) <= 15 and _looks_like_phone(s)
    )
    text = sub(_ADDRESS, "address", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return Scrubbed(text=text, counts=counts)


def _looks_like_phone(s: str) -> bool:
    """Rule out dates (2019-05-04), decimals and number lists that the phone shape also matches."""
    if re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}", s.strip()) or re.fullmatch(
        r"\d{1,2}[-./]\d{1,2}[-./]\d{2,4}", s.strip()
    ):
        return False
    groups = re.split(r"[\s.()-]+", s.strip("+() "))
    groups = [g for g in groups if g]
    return len(groups) >= 2 and (s.lstrip().startswith("+") or max(len(g) for g in groups) >= 3)
