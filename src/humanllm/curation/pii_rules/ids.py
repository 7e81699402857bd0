"""ID numbers that mix letters and digits: passports, licences, national and tax ids, IBANs.

- an upper-case token of letters and digits with 4+ digits, 1+ letter and 8+ characters
  (``X12345678``, ``12345678Z``, ``RSSMRA85T10A562S``, ``ABCDE1234F``); hyphenated tokens
  (``A1234-56789-01234``) need 6+ digits, so product codes like ``WH-1000XM4`` stay;
- an IBAN: two letters, two digits, then groups of four (``DE89 3704 0044 0532 0130 00``);
- a UK National Insurance number in its spaced form (``AB 12 34 56 C``);
- after an ID word, a 7+ character upper-case token with 5+ digits.
"""

from __future__ import annotations

import re

from humanllm.curation.pii_rules import Found

_TOKEN = re.compile(r"(?<![\w.@/-])[A-Z0-9]+(?:-[A-Z0-9]+)*(?![\w@]|-\w|\.\w)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_NINO = re.compile(r"\b[A-Z]{2}[ ]?\d{2}[ ]?\d{2}[ ]?\d{2}[ ]?[A-D]\b")


def _id_like(token: str) -> bool:
    bare = token.replace("-", "")
    n_digits = sum(c.isdigit() for c in bare)
    n_letters = len(bare) - n_digits
    if n_letters == 0 or len(bare) < 8:
        return False
    return n_digits >= (6 if "-" in token else 4)


def find_ids(text: str) -> list[Found]:
    out = [Found(m.start(), m.end(), "id_number", 1) for m in _IBAN.finditer(text)]
    out += [Found(m.start(), m.end(), "id_number", 1) for m in _NINO.finditer(text)]
    for m in _TOKEN.finditer(text):
        if _id_like(m.group(0)):
            out.append(Found(m.start(), m.end(), "id_number", 1))
    return out
