"""What annotators rate: one synthesized item of a finished run's ``genome/`` next to the source
records it was made from.

Three kinds, one per synthesis step of the curation (§2.2 of the paper):

- ``portrait``: a user's persona, profile, stories and writing style, made from the user's
  records (the ones the ``users`` stage showed the model: all of them, or ``n_records_shown``
  spread evenly over time when the history was longer than its budget);
- ``scenario``: background (time, place, characters) and plots, made from one record;
- ``social_qa``: a scenario, a question and its answer, made from one record.

A stratum is ``source · kind``; the sample is drawn per stratum (:mod:`humanllm.humaneval.sample`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, Field, computed_field

Kind = Literal["portrait", "scenario", "social_qa"]
KINDS: tuple[Kind, ...] = ("portrait", "scenario", "social_qa")
#: How the page and the report name each kind.
KIND_LABELS: dict[str, str] = {
    "portrait": "persona / profile / stories",
    "scenario": "scenario",
    "social_qa": "social QA",
}
_TABLE = {"portrait": "users", "scenario": "scenarios", "social_qa": "social_qa"}


class GenomeMissing(FileNotFoundError):
    """The run has no finished ``genome/`` with the tables the sample needs."""


class SourceRecord(BaseModel):
    """One human-authored record the synthesized item was made from."""

    record_id: str
    created_at: str | None = Field(None, description="ISO date, when the record has one.")
    title: str | None = None
    context: str | None = Field(None, description="Amazon: the item reviewed and the rating.")
    text: str


class Section(BaseModel):
    """One labelled part of the synthesized item (e.g. "Persona", "Plots")."""

    label: str
    text: str


class Instance(BaseModel):
    """One item to rate: where it comes from, what it was made from and what was made."""

    instance_id: str = Field("", description="Short id in the sample (set when sampled).")
    source: str
    kind: Kind
    item_id: str = Field(description="user_id, scenario_id or qa_id in the genome table.")
    user_id: str
    records: list[SourceRecord]
    synthesized: list[Section]
    annotators: list[str] = Field(default_factory=list, description="Who rates it.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stratum(self) -> str:
        return stratum_of(self.source, self.kind)


def stratum_of(source: str, kind: str) -> str:
    return f"{source} · {KIND_LABELS.get(kind, kind)}"


def shown_indices(n: int, shown: int | None) -> list[int]:
    """The records the ``users`` stage put in front of the model: all, or ``shown`` of them
    evenly spread over the (chronological) history, as :func:`render_history` picks them."""
    if shown is None or shown >= n:
        return list(range(n))
    if shown <= 1:
        return [n - 1] if n else []
    step = (n - 1) / (shown - 1)
    return sorted({round(i * step) for i in range(shown)})


def _meta_context(meta: str | None) -> str | None:
    try:
        data = json.loads(meta or "{}")
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    parts = []
    if data.get("item_title"):
        parts.append(f"Item: {data['item_title']}")
    if data.get("rating") is not None:
        parts.append(f"Rating: {data['rating']}/5")
    return "\n".join(parts) or None


def _record(row: dict[str, Any]) -> SourceRecord:
    when = row.get("created_at")
    return SourceRecord(
        record_id=str(row["record_id"]),
        created_at=when.strftime("%Y-%m-%d") if hasattr(when, "strftime") else None,
        title=(row.get("title") or "").strip() or None,
        context=_meta_context(row.get("meta")),
        text=(row.get("text") or "").strip(),
    )


def _stories(value: Any) -> str:
    parts = []
    for s in value or []:
        summary = str(s.get("summary") or "").strip()
        narrative = str(s.get("narrative") or "").strip()
        parts.append(f"{summary}: {narrative}" if summary and narrative else summary or narrative)
    return "\n\n".join(p for p in parts if p)


def _characters(value: Any) -> str:
    lines = []
    for c in value or []:
        name, about = str(c.get("name") or "").strip(), str(c.get("description") or "").strip()
        lines.append(f"{name}: {about}" if about else name)
    return "\n".join(lines)


def _sections(pairs: list[tuple[str, str]]) -> list[Section]:
    return [Section(label=k, text=v) for k, v in pairs if v and v.strip()]


class Genome:
    """The genome tables the sample reads (``users``, ``records``, ``scenarios``, ``social_qa``)."""

    def __init__(self, run_dir: Path) -> None:
        folder = Path(run_dir) / "genome"
        if not (folder / "records.parquet").is_file():
            raise GenomeMissing(
                f"{folder}: no genome (records.parquet); run the curation up to `humanllm genome` first"
            )
        self.folder = folder
        self.tables: dict[str, pl.DataFrame] = {}
        for name in ("users", "records", "scenarios", "social_qa"):
            path = folder / f"{name}.parquet"
            if path.is_file():
                self.tables[name] = pl.read_parquet(path)
        records = self.tables["records"].sort(
            "source", "user_id", "created_at", "record_id", nulls_last=True
        )
        self._by_id = {(r["source"], str(r["record_id"])): r for r in records.iter_rows(named=True)}
        self._by_user: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in records.iter_rows(named=True):
            self._by_user.setdefault((r["source"], str(r["user_id"])), []).append(r)

    def candidates(self) -> dict[tuple[str, Kind], list[str]]:
        """Item ids per (source, kind), sorted; only items whose source records are present."""
        out: dict[tuple[str, Kind], list[str]] = {}
        for kind in KINDS:
            df = self.tables.get(_TABLE[kind])
            if df is None or df.height == 0:
                continue
            for row in df.iter_rows(named=True):
                if self._source_rows(kind, row):
                    out.setdefault((row["source"], kind), []).append(self._id(kind, row))
        return {k: sorted(v) for k, v in sorted(out.items())}

    @staticmethod
    def _id(kind: Kind, row: dict[str, Any]) -> str:
        key = {"portrait": "user_id", "scenario": "scenario_id", "social_qa": "qa_id"}[kind]
        return str(row[key])

    def _source_rows(self, kind: Kind, row: dict[str, Any]) -> list[dict[str, Any]]:
        if kind == "portrait":
            history = self._by_user.get((row["source"], str(row["user_id"])), [])
            return [history[i] for i in shown_indices(len(history), row.get("n_records_shown"))]
        found = self._by_id.get((row["source"], str(row["record_id"])))
        return [found] if found is not None else []

    def instances(self, wanted: set[tuple[str, Kind, str]]) -> Iterator[Instance]:
        """The instances for ``(source, kind, item_id)`` keys, in table order."""
        for kind in KINDS:
            df = self.tables.get(_TABLE[kind])
            if df is None:
                continue
            for row in df.iter_rows(named=True):
                if (row["source"], kind, self._id(kind, row)) in wanted:
                    yield self._instance(kind, row)

    def _instance(self, kind: Kind, row: dict[str, Any]) -> Instance:
        if kind == "portrait":
            made = [
                ("Persona", row.get("persona") or ""),
                ("Profile", row.get("profile") or ""),
                ("Stories", _stories(row.get("stories"))),
                ("Writing style", row.get("writing_style") or ""),
            ]
        elif kind == "scenario":
            made = [
                ("Time", row.get("time") or ""),
                ("Place", row.get("place") or ""),
                ("Characters", _characters(row.get("characters"))),
                ("Plots", row.get("plots") or ""),
            ]
        else:
            made = [
                ("Scenario", row.get("scenario") or ""),
                (f"Question ({row.get('type') or 'social QA'})", row.get("question") or ""),
                ("Answer", row.get("answer") or ""),
            ]
        return Instance(
            source=row["source"],
            kind=kind,
            item_id=self._id(kind, row),
            user_id=str(row["user_id"]),
            records=[_record(r) for r in self._source_rows(kind, row)],
            synthesized=_sections(made),
        )
