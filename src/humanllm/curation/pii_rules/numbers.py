"""Digit groups: cards, phone numbers and numeric IDs, told apart from dates, times, versions,
grouped counts, decimals and scores by the shape of their groups and the words around them.

A candidate is a run of digit groups joined by single spaces, dots, dashes or slashes, maybe
with a ``+CC`` prefix or a ``(area)`` group. Its shape decides:

- a date (``2019-05-04``, ``04.05.2019``, ``05/04/2019``) or a version (a one-digit inner group
  joined by dots, ``10.0.19045.3693``; or after a software word) is left alone;
- a count grouped in thousands (``1.234.567``; ``120 000 000`` or ``612 345 678 people`` with
  spaces) is left alone unless a phone or ID word stands before it; so is a round run
  (``25000000 dollars``), a decimal (``3.14159...``) and a one-digit inner group (an ISBN);
- 13-19 digits in card groups (4-4-4-4, 4-6-5, one run): ``card`` when Luhn passes, else
  ``id_number`` (a leaked number need not be a valid card);
- ``+CC`` or ``(area)`` with 7-15 digits, or two or more groups with 9-15 digits: ``phone``
  (``id_number`` after an ID word); 9-12 digits in one run: ``id_number``;
- after an ID word (passport, licence, SSN, tax code, ...) any candidate with 6+ digits is an ID,
  and after a phone word (call, tel, WhatsApp, ...) 7+ digits are a phone.
"""

from __future__ import annotations

import re

from humanllm.curation.pii_rules import Found, context_before

_CANDIDATE = re.compile(
    r"(?<![\w.,/:+-])"
    r"(?:\+\s?\d{1,3}[\s.-]?|1[\s.-]?(?=\())?(?:\(\d{1,4}\)[\s-]?)?"
    r"\d+(?:(?:[ .-]|\s?/\s?)\d+)*"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?"  # an extension, x435
    r"(?!\w|[.,]\d|:\d|-\w)"
)
_ID_WORDS = re.compile(
    r"(?:passport|licen[cs]e|\bid\b|identity|identification|ssn|social security|insurance|"
    r"\bnino?\b|tax|\btin\b|pesel|\bbsn\b|\bcpf\b|\bsin\b|aadhaar|\bpan\b|curp|ppsn|personnummer|"
    r"\bdni\b|\bnie\b|iban|account|member|policy|customer|patient|medicare|card|"
    r"\bno\.?|number|#)[\s:.#-]*$"
)
_PHONE_WORDS = re.compile(
    r"(?:call|phone|\btel\b|mobile|\bcell|whatsapp|text me|ring|fax|number|\bno\.?)[\s:.-]*(?:me\s)?(?:on\s|at\s)?$"
)
_SOFTWARE_WORDS = re.compile(
    r"(?:version|\bv|build|release|update|firmware|kernel|python|chrome|firefox|windows|ios|"
    r"android|macos|node|isbn|doi|issn)[\s:.-]*$"
)
_UNIT_AFTER = re.compile(
    r"\s?(?:%|[a-z]+|€|\$|£)", re.IGNORECASE
)  # checked for round and grouped counts
_NOT_UNITS = {"and", "or", "but", "if", "is", "was", "to", "for", "from", "on", "in", "at", "then"}
_NOT_UNITS |= {"so", "before", "after", "with", "the", "a", "an", "as", "when", "please", "until"}
_NOT_UNITS |= {"belongs", "is", "are", "out", "twice", "on", "into", "do"}
_CURRENCY_BEFORE = re.compile(r"(?:[$€£¥]|\b(?:usd|eur|gbp|about|over|nearly|around|some))\s?$")


def _luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def _is_date(groups: list[str], seps: list[str]) -> bool:
    if len(groups) < 3 or len(set(seps[:2])) != 1 or seps[0] not in "-./":
        return False
    a, b, c = groups[:3]
    if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
        return 1 <= int(b) <= 12 and 1 <= int(c) <= 31
    if len(a) <= 2 and len(b) <= 2 and len(c) in (2, 4):
        return (1 <= int(a) <= 31 and 1 <= int(b) <= 12) or (
            1 <= int(a) <= 12 and 1 <= int(b) <= 31
        )
    return False


def _thousands(groups: list[str], seps: list[str]) -> bool:
    return (
        len(groups) >= 3
        and len(set(seps)) == 1
        and seps[0] in " ."
        and 1 <= len(groups[0]) <= 3
        and not groups[0].startswith("0")
        and all(len(g) == 3 for g in groups[1:])
    )


def _counted(text: str, start: int, end: int) -> bool:
    """A unit, currency or count noun after the number, or a currency/approximation before it."""
    if _CURRENCY_BEFORE.search(context_before(text, start, 12)):
        return True
    m = _UNIT_AFTER.match(text, end)
    return m is not None and m.group(0).strip().lower() not in _NOT_UNITS


def _card_groups(groups: list[str]) -> bool:
    sizes = [len(g) for g in groups]
    return len(groups) == 1 or sizes in ([4, 6, 5], [4, 6, 4]) or all(n == 4 for n in sizes[:-1])


def classify(text: str, start: int, end: int) -> str | None:
    """The PII kind of the digit-group candidate ``text[start:end]``, or None for a plain number."""
    s = text[start:end]
    ext = re.search(r"\s?(?:x|ext\.?)\s?\d{1,5}$", s)
    if ext:
        s, end = s[: ext.start()], start + ext.start()
    groups = re.findall(r"\d+", s)
    seps = [p.strip() or " " for p in re.findall(r"\d+(\D+)(?=\d)", s)]
    n = sum(len(g) for g in groups)
    before = context_before(text, start)
    id_cue = bool(_ID_WORDS.search(before))
    phone_cue = bool(_PHONE_WORDS.search(before))
    intl, area = s.startswith("+"), "(" in s
    if not (intl or area):
        if _is_date(groups, seps) or _SOFTWARE_WORDS.search(before):
            return None
        if any(len(g) == 1 for g in groups[1:-1]) and not (id_cue or phone_cue):
            return None  # a version (10.0.19045.3693) or an ISBN (978-3-16-148410-0)
        if len(groups) == 2 and seps == ["."]:
            return None  # a decimal
        if not (id_cue or phone_cue) and all(
            re.fullmatch(r"\d{1,4}-\d{1,4}", piece) for piece in s.split(" ")
        ):
            return None  # scores or ranges, 102-98, 1990-2005, "102-98 101-99"
    if 13 <= n <= 19 and not (intl or area) and _card_groups(groups) and len(set(seps)) <= 1:
        if _luhn_ok("".join(groups)):
            return "card"
        if len(groups) > 1 or n >= 15 or id_cue:
            return "id_number"
    if (_thousands(groups, seps) or (len(groups) == 1 and groups[0].endswith("000"))) and not (
        id_cue or phone_cue
    ):
        if seps[:1] == ["."] or any(g == "000" for g in groups[1:]) or groups[0].endswith("000"):
            return None  # 1.234.567 (phones are not dotted in threes), 120 000 000, 25000000
        if _counted(text, start, end):
            return None  # 612 345 678 people
    if id_cue and n >= 6 and not phone_cue:
        return "id_number"
    if intl or area:
        return "phone" if 7 <= n <= 15 else None
    if phone_cue and 7 <= n <= 15:
        return "phone"
    if len(groups) == 1:
        if 9 <= n <= 12 and not _counted(text, start, end):
            return "id_number"
        return None
    if 9 <= n <= 15:
        return "phone" if n <= 12 else "id_number"
    return None


def find_numbers(text: str) -> list[Found]:
    out: list[Found] = []
    for m in _CANDIDATE.finditer(text):
        kind = classify(text, m.start(), m.end())
        if kind is not None:
            out.append(Found(m.start(), m.end(), kind, 2))
    return out
