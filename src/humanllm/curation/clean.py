"""Stage ``clean`` (§2.1): the model rewrites each kept record without HTML, URLs, non-English
text and formatting noise (Twitter: also hashtags and mentions) and with private information
replaced by fictitious data; then the deterministic PII safety net (:mod:`humanllm.curation.pii`)
replaces whatever the model missed and counts it.

A record longer than a part is rewritten in parts — split at paragraph breaks, else at sentence
ends, else at spaces — and the rewritten parts are joined with a blank line; nothing of it is cut
off. A part is at most ``max_input_chars``, and at most what a rewrite of ``max_tokens`` can hold
(:func:`humanllm.llm.budget.budget_chars`), so a reply is not cut off by its budget either. If one part is rejected, the record is
(the reject says which part). ``_SUCCESS.json`` counts the records rewritten in parts."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from humanllm.curation.common import platform_of, record_text
from humanllm.curation.per_record import PerRecordStage, per_record_plan
from humanllm.curation.pii import scrub
from humanllm.curation.schemas import Cleaned
from humanllm.curation.tables import CLEANED_SCHEMA
from humanllm.llm.budget import budget_chars
from humanllm.stage import StageContext

PLATFORM_RULES = {
    "twitter": "- hashtags (#tag) and mentions (@user): remove them, keeping the sentence readable;",
}


_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _pack(pieces: list[str], sep: str, limit: int) -> list[str]:
    """Consecutive ``pieces`` joined by ``sep`` into as few chunks of <= ``limit`` as they go."""
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + len(sep) + len(piece) <= limit:
            out[-1] += sep + piece
        else:
            out.append(piece)
    return out


def _split_words(text: str, limit: int) -> list[str]:
    words: list[str] = []
    for w in text.split():  # a "word" longer than the limit (a run of symbols) is cut
        words.extend(w[i : i + limit] for i in range(0, len(w), limit))
    return _pack(words, " ", limit)


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at paragraph breaks, else at
    sentence ends, else between words. One part when it fits."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for para in _PARAGRAPH.split(text.strip()):
        if len(para) <= limit:
            pieces.append(para)
            continue
        sentences: list[str] = []
        for sentence in _SENTENCE_END.split(para):
            sentences.extend(
                [sentence] if len(sentence) <= limit else _split_words(sentence, limit)
            )
        pieces.extend(_pack(sentences, " ", limit))
    return _pack(pieces, "\n\n", limit)


def _fields(row: dict[str, Any], kind: str) -> dict[str, Any]:
    return {
        "platform": platform_of(kind),
        "platform_rules": PLATFORM_RULES.get(kind, ""),
        "record": record_text(row),
    }


def _parts(max_chars: int):  # type: ignore[no-untyped-def]
    def parts(row: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        whole = _fields(row, kind)
        return [{**whole, "record": p} for p in split_text(whole["record"], max_chars)]

    return parts


def _join(parts: list[Cleaned]) -> Cleaned:
    return Cleaned(text="\n\n".join(p.text.strip() for p in parts))


def part_chars(max_input_chars: int, max_tokens: int) -> int:
    """The longest part of a record rewritten in one request."""
    return max(200, min(max_input_chars, int(budget_chars(max_tokens))))


def spec(ctx: StageContext) -> PerRecordStage:
    scfg = ctx.cfg.curation.clean
    limit = part_chars(scfg.max_input_chars, scfg.max_tokens)
    pii: Counter[str] = Counter()
    chunked = 0

    def to_rows(row: dict[str, Any], obj: Cleaned) -> list[dict[str, Any]]:
        nonlocal chunked
        cleaned = scrub(obj.text)
        pii.update(cleaned.counts)
        title = row.get("title")
        if title:
            scrubbed_title = scrub(title)
            pii.update(scrubbed_title.counts)
            title = scrubbed_title.text
        if len(record_text(row)) > limit:
            chunked += 1
        return [{**row, "title": title, "text": cleaned.text.strip()}]

    return PerRecordStage(
        input_folder="filtered",
        output_folder="cleaned",
        output_schema=CLEANED_SCHEMA,
        template_name="clean.v1.txt",
        schema=Cleaned,
        stage_cfg=lambda c: c.cfg.curation.clean,
        fields=_fields,
        parts=_parts(limit),
        join=_join,
        to_rows=to_rows,
        subsample_input=True,
        report=lambda: {
            "pii_replaced_by_safety_net": dict(sorted(pii.items())),
            "chunked_records": chunked,
        },
    )


PLAN = per_record_plan(spec)
