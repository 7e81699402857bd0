"""The genome tables the task builders read, checked for the columns they need.

``users.parquet`` and ``records.parquet`` must exist (the genome stage always writes them);
``scenarios``, ``social_qa``, ``items`` and ``comments`` may be absent (a genome without narrative
sources has no scenarios, one without Amazon no items, one without comment files no comments)
and then read as empty tables. A table that lacks a column the builders need is an error naming
the table and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

#: Columns each builder input needs, and the sort order that makes every build deterministic.
REQUIRED: dict[str, tuple[str, ...]] = {
    "users": ("source", "user_id", "persona", "profile", "writing_style"),
    "records": ("source", "record_id", "user_id", "created_at", "text", "title", "meta"),
    "scenarios": ("source", "record_id", "user_id", "time", "place", "characters", "plots"),
    "social_qa": ("source", "qa_id", "record_id", "user_id", "scenario", "question", "answer"),
    "items": ("source", "item_id", "title", "main_category", "description", "features", "price"),
    "comments": (
        "source", "comment_id", "user_id", "created_at", "text", "post_id", "post_title",
        "post_text",
    ),
}  # fmt: skip
ORDER: dict[str, tuple[str, ...]] = {
    "users": ("source", "user_id"),
    "records": ("source", "user_id", "created_at", "record_id"),
    "scenarios": ("source", "record_id"),
    "social_qa": ("source", "qa_id"),
    "items": ("source", "item_id"),
    "comments": ("source", "user_id", "created_at", "comment_id"),
}
OPTIONAL = ("scenarios", "social_qa", "items", "comments")


class GenomeError(ValueError):
    """The genome folder cannot be used to build tasks; the message names the file and the problem."""


@dataclass(frozen=True)
class Genome:
    users: pl.DataFrame
    records: pl.DataFrame
    scenarios: pl.DataFrame
    social_qa: pl.DataFrame
    items: pl.DataFrame
    comments: pl.DataFrame = field(default_factory=lambda: _empty("comments"))

    def user_keys(self) -> set[tuple[str, str]]:
        """Every ``(source, user_id)`` in any table: the units of the train/test split."""
        keys: set[tuple[str, str]] = set()
        for df in (self.users, self.records, self.scenarios, self.social_qa, self.comments):
            keys.update(df.select("source", "user_id").unique().iter_rows())
        return keys


def _empty(name: str) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {c: pl.String() for c in REQUIRED[name]}
    if name in ("records", "comments"):
        schema["created_at"] = pl.Datetime("us", "UTC")
    if name == "items":
        schema["price"] = pl.Float64()
    if name == "scenarios":
        schema["characters"] = pl.List(pl.Struct({"name": pl.String(), "description": pl.String()}))
    return pl.DataFrame(schema=schema)


def _check_columns(path: Path, name: str, columns: list[str]) -> None:
    missing = [c for c in REQUIRED[name] if c not in columns]
    if missing:
        raise GenomeError(
            f"{path}: missing column(s) {', '.join(missing)}; the task builders need "
            f"{', '.join(REQUIRED[name])}"
        )


def check_tables(folder: str | Path) -> dict[str, Path]:
    """The genome tables of ``folder`` that exist, by name, checked from their Parquet schemas
    only (nothing is loaded); an error names the file and what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GenomeError(f"{folder}: no genome folder; run the genome stage first")
    found: dict[str, Path] = {}
    for name in REQUIRED:
        path = folder / f"{name}.parquet"
        if not path.is_file():
            if name in OPTIONAL:
                continue
            raise GenomeError(
                f"{path}: missing; run the genome stage first (--stages genome,tasks)"
            )
        try:
            columns = pl.read_parquet_schema(path)
        except (OSError, pl.exceptions.PolarsError) as e:
            raise GenomeError(f"{path}: not a readable Parquet file ({e})") from e
        _check_columns(path, name, list(columns))
        found[name] = path
    return found


def read_table(folder: Path, name: str) -> pl.DataFrame:
    path = folder / f"{name}.parquet"
    if not path.is_file():
        if name in OPTIONAL:
            return _empty(name)
        raise GenomeError(f"{path}: missing; run the genome stage first (--stages genome,tasks)")
    try:
        df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as e:
        raise GenomeError(f"{path}: not a readable Parquet file ({e})") from e
    _check_columns(path, name, df.columns)
    return df.sort(ORDER[name], nulls_last=True, maintain_order=True)


def load_genome(folder: str | Path) -> Genome:
    """Read and check the genome tables of ``folder`` (a run's ``genome/``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GenomeError(f"{folder}: no genome folder; run the genome stage first")
    return Genome(**{name: read_table(folder, name) for name in REQUIRED})
