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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, Field, computed_field

from humanllm.runfolder import GENOME

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
    created_at: str | None = Field(default=None, description="ISO date, when the record has one.")
    title: str | None = None
    context: str | None = Field(
        default=None, description="Amazon: the item reviewed and the rating."
    )
    text: str


class Section(BaseModel):
    """One labelled part of the synthesized item (e.g. "Persona", "Plots")."""

    label: str
    text: str


class Instance(BaseModel):
    """One item to rate: where it comes from, what it was made from and what was made."""

    instance_id: str = Field(default="", description="Short id in the sample (set when sampled).")
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
    when: Any = row.get("created_at")
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


def _plain(value: Any) -> str:
    return value or ""


#: The synthesized sections shown for a portrait or a scenario: (label, column, its rendering).
_SHOWN: dict[str, list[tuple[str, str, Callable[[Any], str]]]] = {
    "portrait": [
        ("Persona", "persona", _plain),
        ("Profile", "profile", _plain),
        ("Stories", "stories", _stories),
        ("Writing style", "writing_style", _plain),
    ],
    "scenario": [
        ("Time", "time", _plain),
        ("Place", "place", _plain),
        ("Characters", "characters", _characters),
        ("Plots", "plots", _plain),
    ],
}


_ID_COL = {"portrait": "user_id", "scenario": "scenario_id", "social_qa": "qa_id"}
_STR = pl.String


class Genome:
    """The genome tables the sample reads (``users``, ``records``, ``scenarios``, ``social_qa``),
    scanned lazily: only id columns to list the candidates, then only the sampled rows and the
    records they were made from."""

    def __init__(self, run_dir: Path) -> None:
        folder = Path(run_dir) / GENOME
        if not (folder / "records.parquet").is_file():
            raise GenomeMissing(
                f"{folder}: no genome (records.parquet); run the curation up to `humanllm genome` first"
            )
        self.folder = folder
        self.records = pl.scan_parquet(folder / "records.parquet").with_columns(
            pl.col("record_id").cast(_STR), pl.col("user_id").cast(_STR)
        )

    def _table(self, kind: Kind) -> pl.LazyFrame | None:
        path = self.folder / f"{_TABLE[kind]}.parquet"
        if not path.is_file():
            return None
        lf = pl.scan_parquet(path)
        cols = {_ID_COL[kind], "user_id"} | ({"record_id"} if kind != "portrait" else set())
        return lf.with_columns(pl.col(c).cast(_STR) for c in sorted(cols)).with_columns(
            pl.col(_ID_COL[kind]).alias("_item_id")
        )

    def _with_records(self, kind: Kind, lf: pl.LazyFrame) -> pl.LazyFrame:
        """The rows of ``lf`` whose source records are in ``records``."""
        if kind == "portrait":
            users = self.records.select("source", "user_id").unique()
            return lf.join(users, on=["source", "user_id"], how="semi")
        return lf.join(
            self.records.select("source", "record_id"), on=["source", "record_id"], how="semi"
        )

    def candidates(self) -> dict[tuple[str, Kind], list[str]]:
        """Item ids per (source, kind), sorted; only items whose source records are present."""
        out: dict[tuple[str, Kind], list[str]] = {}
        for kind in KINDS:
            lf = self._table(kind)
            if lf is None:
                continue
            df = self._with_records(kind, lf).select("source", "_item_id").collect()
            for (source,), part in df.group_by("source"):
                out[(str(source), kind)] = sorted(part["_item_id"].to_list())
        return dict(sorted(out.items()))

    def instances(self, wanted: set[tuple[str, Kind, str]]) -> Iterator[Instance]:
        """The instances for ``(source, kind, item_id)`` keys."""
        for kind in KINDS:
            lf = self._table(kind)
            keys = [(s, i) for s, k, i in wanted if k == kind]
            if lf is None or not keys:
                continue
            want = pl.DataFrame(keys, schema={"source": _STR, "_item_id": _STR}, orient="row")
            rows = lf.join(want.lazy(), on=["source", "_item_id"], how="semi").collect()
            on = ["source", "user_id"] if kind == "portrait" else ["source", "record_id"]
            needed = rows.select(on).unique().lazy()
            records = (
                self.records.join(needed, on=on, how="semi")
                .sort("source", "user_id", "created_at", "record_id", nulls_last=True)
                .collect()
            )
            index: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for r in records.iter_rows(named=True):
                index.setdefault((r["source"], r[on[1]]), []).append(r)
            for row in rows.iter_rows(named=True):
                found = index.get((row["source"], row[on[1]]), [])
                if kind == "portrait":
                    found = [
                        found[i] for i in shown_indices(len(found), row.get("n_records_shown"))
                    ]
                yield self._instance(kind, row, found[:1] if kind != "portrait" else found)

    @staticmethod
    def _instance(kind: Kind, row: dict[str, Any], source_rows: list[dict[str, Any]]) -> Instance:
        if kind in _SHOWN:
            made = [(label, show(row.get(column))) for label, column, show in _SHOWN[kind]]
        else:
            made = [
                ("Scenario", row.get("scenario") or ""),
                (f"Question ({row.get('type') or 'social QA'})", row.get("question") or ""),
                ("Answer", row.get("answer") or ""),
            ]
        return Instance(
            source=row["source"],
            kind=kind,
            item_id=row["_item_id"],
            user_id=row["user_id"],
            records=[_record(r) for r in source_rows],
            synthesized=_sections(made),
        )
