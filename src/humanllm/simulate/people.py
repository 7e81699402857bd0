"""People of a run's genome as simulator inputs: ``--run-dir DIR --user ID [--source S]``.

A :class:`GenomeUsers` reads ``genome/users.parquet`` once (for listing and paging) and a user's
records (and comments, when the genome has ``comments.parquet``) on demand. A :class:`Person` holds the portrait (persona,
profile, stories, writing style) and the most recent records; :func:`inputs_for` turns a person
into the fields of each application's input, with the same history sizes the task builders use
(``tasks.history_records`` / ``history_chars`` / ``history_items`` of the run's config).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import BaseModel, Field

from humanllm.records import SOURCES
from humanllm.runfolder import GENOME
from humanllm.sources.kind import platform_of
from humanllm.tasks.rows import cut

#: The task builders' defaults, used when the run's config does not say otherwise.
HISTORY_RECORDS, HISTORY_CHARS, HISTORY_ITEMS = 3, 1000, 10
_RECORDS_SHOWN = 20  # records of a person kept in memory and shown on the page


class GenomeError(ValueError):
    """The run has no usable genome; the message says what is missing."""


class UnknownUser(KeyError):
    """No such user in the genome (or an ambiguous id without ``--source``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown user"


class UserSummary(BaseModel):
    source: str
    user_id: str
    persona: str


class RecordView(BaseModel):
    created_at: str | None = None
    title: str = ""
    text: str = ""
    item: str = Field(default="", description="Amazon: the reviewed item's title.")
    rating: float | None = Field(default=None, description="Amazon: stars out of 5.")


class Person(BaseModel):
    source: str
    user_id: str
    kind: str = Field(description="Reader kind of the source: reddit, twitter, blogger, amazon ...")
    platform: str = Field(description='What the person writes there: "Reddit post", "tweet" ...')
    persona: str = ""
    profile: str = ""
    stories: str = ""
    writing_style: str = ""
    records: list[RecordView] = Field(default_factory=list, description="Most recent last.")
    comments: list[RecordView] = Field(
        default_factory=list,
        description="Reddit comments / Twitter replies (genome/comments.parquet), most recent "
        "last; ``item`` is the title (or the start) of the post answered.",
    )


@dataclass(frozen=True)
class History:
    records: int = HISTORY_RECORDS
    chars: int = HISTORY_CHARS
    items: int = HISTORY_ITEMS


def _text(value: Any) -> str:
    if isinstance(value, list):  # stories: [{summary, narrative}, ...]
        return "\n\n".join(t for t in (_text(v) for v in value) if t)
    if isinstance(value, dict):
        return ": ".join(t for t in (_text(v) for v in value.values()) if t)
    return value.strip() if isinstance(value, str) else ""


def _source_kinds(cfg: dict[str, Any]) -> dict[str, str]:
    """Source name -> reader kind, from the run's config (a jsonl source filtered as a kind is
    that kind), as :func:`humanllm.curation.common.source_kinds` sees it."""
    out = {}
    for s in cfg.get("sources") or []:
        if not isinstance(s, dict) or not s.get("kind"):
            continue
        kind = str(s["kind"])
        if kind == "jsonl" and s.get("filter_as") not in (None, "none"):
            kind = str(s["filter_as"])
        out[str(s.get("name") or s["kind"])] = kind
    return out


def _run_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


class GenomeUsers:
    """The users of ``RUN_DIR/genome`` (loaded once), and each one's records on demand."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        folder = self.run_dir / GENOME
        if not self.run_dir.is_dir():
            raise GenomeError(f"{self.run_dir}: no such run folder")
        users = folder / "users.parquet"
        if not users.is_file():
            raise GenomeError(
                f"{self.run_dir} has no genome ({users} is missing): run the flow first, "
                f"humanllm run CONFIG --run-dir {self.run_dir} (its genome stage writes it)"
            )
        try:
            df = pl.read_parquet(users)
        except (OSError, pl.exceptions.PolarsError) as e:
            raise GenomeError(f"{users}: not a readable Parquet file ({e})") from e
        missing = {"source", "user_id", "persona"} - set(df.columns)
        if missing:
            raise GenomeError(f"{users}: missing column(s) {', '.join(sorted(missing))}")
        self.users = df.sort("source", "user_id")
        self.records_path = folder / "records.parquet"
        self.comments_path = folder / "comments.parquet"
        cfg = _run_config(self.run_dir)
        self.kinds = _source_kinds(cfg)
        tasks: dict[str, Any] = cfg["tasks"] if isinstance(cfg.get("tasks"), dict) else {}
        self.history = History(
            records=int(tasks.get("history_records", HISTORY_RECORDS)),
            chars=int(tasks.get("history_chars", HISTORY_CHARS)),
            items=int(tasks.get("history_items", HISTORY_ITEMS)),
        )

    def __len__(self) -> int:
        return self.users.height

    def kind(self, source: str) -> str:
        return self.kinds.get(source) or (source if source in SOURCES else "jsonl")

    def sources(self) -> list[str]:
        return sorted(self.users["source"].unique().to_list())

    def page(
        self, offset: int = 0, limit: int = 50, source: str | None = None, query: str | None = None
    ) -> tuple[int, list[UserSummary]]:
        """``(total matching, one page)`` of users, by source then id; ``query`` matches the id
        or the persona, case-insensitively."""
        df = self.users
        if source:
            df = df.filter(pl.col("source") == source)
        if query and query.strip():
            q = query.strip().lower()
            df = df.filter(
                pl.col("user_id").str.to_lowercase().str.contains(q, literal=True)
                | pl.col("persona").fill_null("").str.to_lowercase().str.contains(q, literal=True)
            )
        rows = df.slice(offset, limit).select("source", "user_id", "persona").to_dicts()
        return df.height, [
            UserSummary(source=r["source"], user_id=str(r["user_id"]), persona=_text(r["persona"]))
            for r in rows
        ]

    def person(self, user_id: str, source: str | None = None) -> Person:
        df = self.users.filter(pl.col("user_id") == user_id)
        if source:
            df = df.filter(pl.col("source") == source)
        if df.height == 0:
            where = f" in source {source!r}" if source else ""
            known = ", ".join(self.sources()) or "none"
            raise UnknownUser(
                f"no user {user_id!r}{where} in the genome "
                f"({len(self)} users; sources: {known}); list them with GET /api/users or "
                f"`humanllm inspect`"
            )
        if df.select("source").n_unique() > 1:
            found = ", ".join(sorted(df["source"].unique().to_list()))
            raise UnknownUser(
                f"user {user_id!r} exists in several sources ({found}): give --source"
            )
        row = df.row(0, named=True)
        src = str(row["source"])
        kind = self.kind(src)
        return Person(
            source=src,
            user_id=str(row["user_id"]),
            kind=kind,
            platform=platform_of(kind),
            persona=_text(row.get("persona")),
            profile=_text(row.get("profile")),
            stories=_text(row.get("stories")),
            writing_style=_text(row.get("writing_style")),
            records=self._records(src, user_id),
            comments=self._comments(src, user_id),
        )

    def _comments(self, source: str, user_id: str) -> list[RecordView]:
        columns = ("created_at", "text", "post_title", "post_text")
        df = _recent(self.comments_path, source, user_id, columns)
        return [
            RecordView(
                created_at=r["created_at"].isoformat() if r.get("created_at") else None,
                text=_text(r.get("text")),
                item=_text(r.get("post_title")) or cut(_text(r.get("post_text")), 120),
            )
            for r in df.to_dicts()
        ]

    def _records(self, source: str, user_id: str) -> list[RecordView]:
        df = _recent(self.records_path, source, user_id, ("created_at", "title", "text", "meta"))
        out = []
        for r in df.to_dicts():
            try:
                meta = json.loads(r.get("meta") or "{}")
            except (TypeError, json.JSONDecodeError):
                meta = {}
            meta = meta if isinstance(meta, dict) else {}
            rating = meta.get("rating")
            created = r.get("created_at")
            out.append(
                RecordView(
                    created_at=created.isoformat() if created is not None else None,
                    title=_text(r.get("title")),
                    text=_text(r.get("text")),
                    item=_text(meta.get("item_title")),
                    rating=float(rating) if isinstance(rating, int | float) else None,
                )
            )
        return out


def _recent(path: Path, source: str, user_id: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """A genome table's most recent rows of one user (none when the table is absent)."""
    if not path.is_file():
        return pl.DataFrame()
    return (
        pl.scan_parquet(path)
        .filter((pl.col("source") == source) & (pl.col("user_id") == user_id))
        .select(columns)
        .sort("created_at", nulls_last=False)
        .tail(_RECORDS_SHOWN)
        .collect()
    )


def _full(r: RecordView) -> str:
    if r.title and not r.text.startswith(r.title):
        return f"{r.title}\n\n{r.text}".strip()
    return r.text


def about(person: Person) -> dict[str, Any]:
    """Persona and profile (None where empty): the paper's "persona or profile" inputs."""
    return {"persona": person.persona or None, "profile": person.profile or None}


def writings(person: Person, h: History) -> list[str]:
    """The person's most recent texts, each cut, oldest first."""
    recent = person.records[-h.records :] if h.records > 0 else []
    return [cut(_full(r), h.chars) for r in recent if _full(r)]


def earlier_comments(person: Person, h: History) -> list[dict[str, Any]]:
    """The person's real comments when the genome has them (as the commenting task was trained),
    else their reviews (Amazon) or, as a stand-in, their own posts; as review fields."""
    amazon = person.kind == "amazon"
    recent = person.records[-h.records :] if h.records > 0 else []
    said = person.comments[-h.records :] if person.comments and h.records > 0 else recent
    return [
        {
            "item": r.item or r.title or ("an item" if amazon else "a post"),
            "text": cut(_full(r) if amazon else r.text or r.title, h.chars),
            "rating": r.rating,
        }
        for r in said
        if r.text or r.title
    ]


def purchases(person: Person, h: History) -> list[dict[str, Any]]:
    """The items the person reviewed most recently (title and stars), oldest first."""
    recent = person.records[-h.items :] if h.items > 0 else []
    return [{"item": r.item, "rating": r.rating} for r in recent if r.item]


def inputs_for(person: Person, history: History | None = None) -> dict[str, dict[str, Any]]:
    """The fields each application takes from ``person`` (others come from the caller), by
    application (``SimApp.from_person``). Where the paper says "persona or profile" (or "earlier
    texts or style") both are given when the person has both: the prompts take both, the training
    rows showed one of them at random."""
    from humanllm.simulate.schemas import apps

    h = history or History()
    return {app.name: app.from_person(person, h) for app in apps()}
