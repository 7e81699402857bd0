"""Scores the safety net on the committed PII sets (``tests/curation/pii_data/*.jsonl``).

A planted string counts as caught when the replaced spans cover every letter and digit of it (a
city or postcode left behind is a miss). A PII-free sentence counts as altered when ``scrub``
changes it at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from humanllm.curation.pii import Span, find

KINDS = ("email", "phone", "url", "address", "card", "id_number")
#: the external set's locales whose misses the rules were improved on; the other five stay blind
EXTERNAL_TUNED = ("en_CA", "en_AU", "it_IT", "pt_BR", "pl_PL")


@dataclass
class Score:
    """Caught/planted per kind and per format, and the misses for inspection."""

    caught: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    planted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    by_format: dict[str, list[int]] = field(default_factory=dict)
    misses: list[tuple[str, str, str]] = field(default_factory=list)

    def recall(self, kind: str | None = None) -> float:
        kinds = KINDS if kind is None else (kind,)
        planted = sum(self.planted[k] for k in kinds)
        return sum(self.caught[k] for k in kinds) / planted if planted else 1.0


def load(path: Path) -> list[dict[str, object]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_set(data: Path, name: str) -> list[dict[str, object]]:
    """A planted set by name: ``tuning``, ``heldout``, ``external-tuned`` or ``external-blind``."""
    if not name.startswith("external-"):
        return load(data / f"pii_{name}.jsonl")
    tuned = name == "external-tuned"
    rows = load(data / "pii_external.jsonl")
    return [r for r in rows if (str(r["id"]).split("-")[1] in EXTERNAL_TUNED) == tuned]


def covered(text: str, start: int, end: int, spans: list[Span]) -> bool:
    return all(
        not text[i].isalnum() or any(s.start <= i < s.end for s in spans) for i in range(start, end)
    )


def score_planted(
    rows: list[dict[str, object]], finder: Callable[[str], list[Span]] = find
) -> Score:
    score = Score()
    for row in rows:
        text = str(row["text"])
        spans = finder(text)
        for p in row["spans"]:  # type: ignore[attr-defined]
            kind, start, end = p["kind"], p["start"], p["end"]
            hit = covered(text, start, end, spans)
            score.planted[kind] += 1
            score.caught[kind] += hit
            score.by_format.setdefault(f"{kind}/{p['format']}", [0, 0])[0] += hit
            score.by_format[f"{kind}/{p['format']}"][1] += 1
            if not hit:
                score.misses.append((kind, p["format"], text))
    return score


def altered(rows: list[dict[str, object]], finder: Callable[[str], list[Span]] = find) -> list[str]:
    """The PII-free sentences in which ``finder`` finds anything (and so ``scrub`` alters)."""
    return [str(r["text"]) for r in rows if finder(str(r["text"]))]
