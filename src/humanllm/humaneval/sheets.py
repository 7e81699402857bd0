"""The rating sheets: one CSV per annotator, written by ``sample``, filled in a spreadsheet or
exported by the page, read back by ``score``.

Columns: ``instance_id, annotator, stratum, hallucination, plausibility, note`` — the page's
export has exactly these; the sheets ``sample`` writes add the texts (``source_records``,
``synthesized``) for raters who work in a spreadsheet. Any other column is ignored.
Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from humanllm.humaneval.instances import Instance
from humanllm.runfolder import atomic_write_text

SCALES = ("hallucination", "plausibility")
COLUMNS = ("instance_id", "annotator", "stratum", *SCALES, "note")
TEXT_COLUMNS = ("source_records", "synthesized")
REQUIRED = ("instance_id", "annotator", *SCALES)
#: The scales as annotators read them: question, then the anchor of each point 1..5.
SCALE_TEXT: dict[str, dict[str, object]] = {
    "hallucination": {
        "title": "Hallucination",
        "question": "Is everything in the synthesized text supported by the source records?",
        "anchors": [
            "mostly invented, or contradicts the source",
            "several claims unsupported or contradicted",
            "some details not in the source",
            "one minor detail not in the source",
            "no hallucination: all of it is supported by the source",
        ],
    },
    "plausibility": {
        "title": "Semantic plausibility",
        "question": "Does it read as a coherent, believable account of this person or situation?",
        "anchors": [
            "implausible or incoherent",
            "largely implausible",
            "partly plausible",
            "plausible, with small oddities",
            "high plausibility: coherent and believable",
        ],
    },
}


class SheetError(ValueError):
    """A sheet does not match the assignment; the message names each file and row."""


@dataclass(frozen=True)
class Rating:
    instance_id: str
    annotator: str
    hallucination: int
    plausibility: int
    note: str
    where: str
    """``file, row N`` the rating was read from."""


def _source_text(inst: Instance) -> str:
    parts = []
    for r in inst.records:
        head = " · ".join(x for x in (r.created_at, r.title) if x)
        body = "\n".join(x for x in (r.context, r.text) if x)
        parts.append(f"[{r.record_id}] {head}\n{body}".strip())
    return "\n\n".join(parts)


def _made_text(inst: Instance) -> str:
    return "\n\n".join(f"{s.label}: {s.text}" for s in inst.synthesized)


def render_sheet(
    annotator: str,
    order: Iterable[str],
    instances: Mapping[str, Instance],
    saved: Mapping[str, Mapping[str, object]] | None = None,
) -> str:
    """The CSV text of one annotator's sheet, rows in ``order``; ``saved`` fills in ratings."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow((*COLUMNS, *TEXT_COLUMNS))
    for iid in order:
        inst = instances[iid]
        got = (saved or {}).get(iid, {})
        w.writerow(
            (
                iid,
                annotator,
                inst.stratum,
                *("" if got.get(s) is None else got[s] for s in SCALES),
                got.get("note") or "",
                _source_text(inst),
                _made_text(inst),
            )
        )
    return buf.getvalue()


def write_sheet(path: Path, text: str) -> None:
    atomic_write_text("\ufeff" + text, path)  # with a BOM: spreadsheets then read it as UTF-8


def _rating(value: str, scale: str, where: str) -> int:
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        if not text:
            raise SheetError(f"{where}: no {scale} rating (1-5)") from None
        raise SheetError(f"{where}: {scale} rating {text!r} is not a number 1-5") from None
    if number != int(number) or not 1 <= number <= 5:
        raise SheetError(f"{where}: {scale} rating {text} is outside 1-5 (whole numbers only)")
    return int(number)


def read_sheet(path: Path) -> list[dict[str, str]]:
    """The rows of one sheet as dicts, each with its ``_row`` (spreadsheet row number)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SheetError(f"{path}: cannot read it as UTF-8 CSV ({e})") from e
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise SheetError(f"{path}, row 1: the header lacks column(s) {', '.join(missing)}")
    rows = []
    for n, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # a blank line
        rows.append({**{k: (v or "") for k, v in row.items() if k is not None}, "_row": str(n)})
    return rows


def read_ratings(paths: Iterable[Path], assignment: Mapping[str, Iterable[str]]) -> list[Rating]:
    """Every rating of ``paths``, checked against ``assignment`` (instance id -> annotators):
    each assigned (instance, annotator) rated exactly once, nothing else. All problems are
    reported together, each with its file and row."""
    assigned = {iid: set(who) for iid, who in assignment.items()}
    annotators = set().union(*assigned.values()) if assigned else set()
    problems: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    files_of: dict[str, list[str]] = {}
    ratings: list[Rating] = []
    for path in paths:
        try:
            rows = read_sheet(path)
        except SheetError as e:
            problems.append(str(e))
            continue
        for row in rows:
            where = f"{path}, row {row['_row']}"
            iid, who = row["instance_id"].strip(), row["annotator"].strip()
            if iid not in assigned:
                problems.append(f"{where}: unknown instance id {iid!r}")
                continue
            if who not in annotators:
                known = ", ".join(sorted(annotators))
                problems.append(f"{where}: annotator {who!r} is not in the assignment ({known})")
                continue
            files_of.setdefault(who, []).append(str(path))
            if who not in assigned[iid]:
                problems.append(f"{where}: instance {iid} is not assigned to annotator {who}")
                continue
            if (iid, who) in seen:
                problems.append(f"{where}: {who} rated {iid} already ({seen[(iid, who)]})")
                continue
            seen[(iid, who)] = where
            try:
                h, p = (_rating(row[s], s, where) for s in SCALES)
            except SheetError as e:
                problems.append(str(e))
                continue
            ratings.append(Rating(iid, who, h, p, row.get("note", "").strip(), where))
    for iid, who_all in assigned.items():
        for who in sorted(who_all):
            if (iid, who) not in seen:
                files = sorted(set(files_of.get(who, [])))
                place = " or ".join(files) if files else f"sheets/{who}.csv (no rows of {who})"
                problems.append(f"{place}: missing row for instance {iid} (annotator {who})")
    if problems:
        shown = problems[:25]
        more = f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
        raise SheetError(
            f"{len(problems)} problem(s) in the sheets:\n  " + "\n  ".join(shown) + more
        )
    return ratings
