"""Benchmark of the PII safety net (``curation/pii.py``) on the committed sets.

The model is taken to return the text unchanged, so the net alone acts. For each planted set
(``tests/curation/pii_data``; see ``make_pii_sets.py`` there for how each was built) it prints the
recall per kind (a planted string is caught when the replaced spans cover every letter and digit
of it) and, for each PII-free number-heavy set, the share of sentences altered; then the
throughput of ``scrub``. Sets:

- ``tuning``: the formats the rules were written against (US, UK, FR, ES, DE);
- ``heldout``: other sentence frames and other countries' formats, written by hand;
- ``external``: the held-out frames with values from Faker's locale providers for ten held-out
  countries (formats written by others). The rules were then improved on the misses of five of
  them (``external-tuned``: CA, AU, IT, BR, PL); the other five (``external-blind``: IN, MX, NL, SE,
  IE) were never looked at row by row.

With presidio-analyzer importable (it is not a dependency), its pattern recognizers (no spaCy
model) are scored on the same sets for comparison. Usage::

    python benchmarks/pii.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from humanllm.curation.pii import Span, find, scrub
from humanllm.curation.pii_rules.measure import KINDS, altered, load, load_set, score_planted

DATA = Path(__file__).resolve().parents[1] / "tests" / "curation" / "pii_data"
TARGETS = {"recall_per_kind": 0.95, "free_altered": 0.02}


def presidio_finder() -> Callable[[str], list[Span]] | None:
    """Presidio's pattern recognizers, run without its NLP engine (so no spaCy model)."""
    try:
        from presidio_analyzer import predefined_recognizers as pr
    except ImportError:
        return None
    names = ["EmailRecognizer", "UrlRecognizer", "PhoneRecognizer", "CreditCardRecognizer"]
    names += ["UsSsnRecognizer", "UsPassportRecognizer", "UsLicenseRecognizer", "IbanRecognizer"]
    names += ["UkNinoRecognizer", "EsNifRecognizer", "ItFiscalCodeRecognizer", "InPanRecognizer"]
    names += ["InAadhaarRecognizer", "AuTfnRecognizer", "PlPeselRecognizer", "IpRecognizer"]
    recognizers = [getattr(pr, n)() for n in names if hasattr(pr, n)]

    def finder(text: str) -> list[Span]:
        spans = []
        for rec in recognizers:
            for res in rec.analyze(text, rec.supported_entities, None) or []:
                if res.score >= 0.3:
                    spans.append(Span(res.start, res.end, res.entity_type, ""))
        return spans

    return finder


def measure(name: str, finder: Callable[[str], list[Span]], limit: int | None) -> dict[str, Any]:
    rows = load_set(DATA, name)[:limit]
    score = score_planted(rows, finder)
    out: dict[str, Any] = {
        "rows": len(rows),
        "recall": {k: [score.caught[k], score.planted[k]] for k in KINDS},
        "overall": score.recall(),
    }
    free = DATA / f"pii_free_{name}.jsonl"
    if free.exists():
        free_rows = load(free)[:limit]
        out["free_altered"] = [len(altered(free_rows, finder)), len(free_rows)]
    return out


def throughput(limit: int | None) -> float:
    texts = [
        str(r["text"]) for name in ("tuning", "heldout") for r in load(DATA / f"pii_{name}.jsonl")
    ]
    texts = texts[:limit]
    t0 = time.perf_counter()
    for t in texts:
        scrub(t)
    return len(texts) / (time.perf_counter() - t0)


def table(results: dict[str, dict[str, Any]]) -> str:
    sets = list(results)
    lines = ["| kind | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    for kind in (*KINDS, "overall"):
        cells = []
        for s in sets:
            if kind == "overall":
                cells.append(f"{results[s]['overall']:.1%}")
            else:
                c, n = results[s]["recall"][kind]
                cells.append(f"{c}/{n} ({c / n:.1%})" if n else "-")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    cells = []
    for s in sets:
        fa = results[s].get("free_altered")
        cells.append(f"{fa[0]}/{fa[1]} ({fa[0] / fa[1]:.1%})" if fa else "-")
    lines.append("| PII-free altered | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the first 100 rows of each set")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    limit = 100 if args.quick else None
    sets = ("tuning", "heldout", "external-tuned", "external-blind")
    results = {name: measure(name, find, limit) for name in sets}
    other = presidio_finder()
    if other is not None:
        for name in sets:
            results[f"presidio/{name}"] = measure(name, other, limit)
    rate = throughput(limit)
    if args.json:
        print(json.dumps({"sets": results, "records_per_s": rate, "targets": TARGETS}, indent=2))
        return
    print(table(results))
    print(f"\nscrub throughput: {rate:,.0f} records/s")


if __name__ == "__main__":
    main()
