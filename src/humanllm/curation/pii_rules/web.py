"""Emails and URLs: with a scheme, ``www.``, or a bare domain under a common top-level domain."""

from __future__ import annotations

import re

from humanllm.curation.pii_rules import Found

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_TRAILING = ".,;:!?'\")]}"
_SCHEME = re.compile(r"\b(?:https?|ftp)://[^\s<>\"]+|\bwww\.[^\s<>\"]+", re.IGNORECASE)
#: top-level domains common enough that ``name.tld`` in prose is a web address
_TLDS = (
    "com|net|org|edu|gov|info|biz|io|co|me|ly|app|dev|ai|tv|eu|uk|de|fr|es|it|nl|be|ch|at|"
    "pt|br|pl|se|no|dk|fi|ie|ca|au|nz|in|mx|ar|jp|us|ru|cz"
)
_BARE = re.compile(
    rf"(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})\b(?:/[^\s<>\"]*)?",
    re.IGNORECASE,
)


def _trim(text: str, start: int, end: int) -> int:
    """Drop the sentence punctuation a URL pattern swallowed (a ``)`` only when unbalanced)."""
    while end > start and text[end - 1] in _TRAILING:
        if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
            break
        end -= 1
    return end


def find_web(text: str) -> list[Found]:
    out: list[Found] = []
    for m in _EMAIL.finditer(text):
        out.append(Found(m.start(), m.end(), "email", 0))
    for pattern in (_SCHEME, _BARE):
        for m in pattern.finditer(text):
            end = _trim(text, m.start(), m.end())
            label = text[m.start() : end]
            if pattern is _BARE and ("/" not in label and label.split(".")[0].isupper()):
                continue  # "NGUYEN.Emma"-like name pieces, not a site
            out.append(Found(m.start(), end, "url", 0))
    return out
