"""Stage ``clean`` (§2.1): the model rewrites each kept record without HTML, URLs, non-English
text and formatting noise (Twitter: also hashtags and mentions) and with private information
replaced by fictitious data; then the deterministic PII safety net (:mod:`humanllm.curation.pii`)
replaces whatever the model missed and counts it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from humanllm.curation.common import platform_of, record_text
from humanllm.curation.per_record import PerRecordStage, run_per_record
from humanllm.curation.pii import scrub
from humanllm.curation.schemas import Cleaned
from humanllm.stage import StageContext, StageResult

PLATFORM_RULES = {
    "twitter": "- hashtags (#tag) and mentions (@user): remove them, keeping the sentence readable;",
}


def _fields(max_chars: int):  # type: ignore[no-untyped-def]
    def fields(row: dict[str, Any], kind: str) -> dict[str, Any]:
        text = record_text(row)
        return {
            "platform": platform_of(kind),
            "platform_rules": PLATFORM_RULES.get(kind, ""),
            "record": text[:max_chars],
        }

    return fields


def run_clean(ctx: StageContext) -> StageResult:
    scfg = ctx.cfg.curation.clean
    pii: Counter[str] = Counter()
    truncated = 0

    def to_rows(row: dict[str, Any], obj: Cleaned) -> list[dict[str, Any]]:
        nonlocal truncated
        cleaned = scrub(obj.text)
        pii.update(cleaned.counts)
        title = row.get("title")
        if title:
            scrubbed_title = scrub(title)
            pii.update(scrubbed_title.counts)
            title = scrubbed_title.text
        if len(record_text(row)) > scfg.max_input_chars:
            truncated += 1
        return [{**row, "title": title, "text": cleaned.text.strip()}]

    spec = PerRecordStage(
        input_folder="filtered",
        output_folder="cleaned",
        template_name="clean.v1.txt",
        schema=Cleaned,
        stage_cfg=lambda c: c.cfg.curation.clean,
        fields=_fields(scfg.max_input_chars),
        to_rows=to_rows,
        subsample_input=True,
    )
    result = run_per_record(ctx, spec)
    result.extra["pii_replaced_by_safety_net"] = dict(sorted(pii.items()))
    result.extra["truncated_inputs"] = truncated
    return result
