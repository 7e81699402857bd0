"""Stage ``genome``: the Cognitive Genome dataset — Parquet tables ``users``, ``records``
(cleaned, labelled high quality and harmless), ``scenarios``, ``social_qa`` (the items that passed
QC), ``items`` (Amazon) and ``comments`` (Reddit comments / Twitter replies of the genome's users,
when a source gives them), joined by ``source`` + ``user_id`` / ``record_id`` / ``item_id``; a
dataset card ``README.md``; ``stats.json`` with the paper's Table A1 layout."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from humanllm.curation.card import write_card
from humanllm.curation.pii import scrub
from humanllm.runfolder import RunFolder, SourceCounts, atomic_write_parquet, atomic_write_text
from humanllm.stage import StageContext, StageResult

TABLES = ("users", "records", "scenarios", "social_qa", "items", "comments")
#: Comment bodies that say the comment is gone.
_GONE = ["[removed]", "[deleted]"]


def code_version() -> str:
    """The stage's version: a digest of the code that assembles the tables and the card."""
    h = hashlib.sha256()
    for name in ("genome", "card", "pii"):
        h.update(Path(__file__).with_name(f"{name}.py").read_bytes())
    return h.hexdigest()[:12]


def _scan(run: RunFolder, folder: str) -> pl.DataFrame | None:
    lf = run.scan(folder)
    return None if lf is None else lf.collect()


def _passed(run: RunFolder, kind: str) -> pl.DataFrame:
    qc = _scan(run, "qc")
    if qc is None:
        return pl.DataFrame(
            schema={
                "source": pl.String,
                "item_id": pl.String,
                "qc_overall": pl.Int64,
                "qc_scores": pl.String,
            }
        )
    return qc.filter((pl.col("kind") == kind) & pl.col("passed")).select(
        "source",
        "item_id",
        pl.col("overall").alias("qc_overall"),
        pl.col("scores").alias("qc_scores"),
    )


def build_tables(run: RunFolder) -> dict[str, pl.DataFrame]:
    tables: dict[str, pl.DataFrame] = {}
    users = _scan(run, "users")
    if users is not None:
        tables["users"] = users.join(
            _passed(run, "user"),
            left_on=["source", "user_id"],
            right_on=["source", "item_id"],
            how="inner",
        )
    records = _scan(run, "labeled")
    if records is not None:
        tables["records"] = records.sort("source", "user_id", "created_at", nulls_last=True)
    for name, id_col, kind in (
        ("scenarios", "scenario_id", "scenario"),
        ("social_qa", "qa_id", "social_qa"),
    ):
        df = _scan(run, name)
        if df is not None:
            passed = _passed(run, kind)
            tables[name] = df.join(
                passed, left_on=["source", id_col], right_on=["source", "item_id"], how="inner"
            )
    items = _scan(run, "items")
    if items is not None and "records" in tables:
        amazon = tables["records"].filter(pl.col("meta").str.contains('"parent_asin"'))
        asins = amazon.select(
            pl.col("meta").str.json_path_match("$.parent_asin").alias("item_id")
        ).unique()
        tables["items"] = items.join(asins, on="item_id", how="semi").unique(
            "item_id", keep="last", maintain_order=True
        )
    comments = comments_table(run, tables)
    if comments is not None:
        tables["comments"] = comments
    return tables


def comments_table(run: RunFolder, tables: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
    """The comments (replies) of the genome's users on posts the ingest read, each with its post:
    ``comments/`` rows of a user with records in the genome, minus removed, deleted or empty
    ones, joined with the post's ``post_title`` and ``post_text`` (from ``records/``: any post,
    not only those that passed the filters, since a user comments on other people's posts). The
    PII safety net runs over comment and post text (comments are not rewritten by ``clean``).
    :func:`dropped_comments` names the genome users' comments left out, and why."""
    mine = _users_comments(run, tables)
    posts = _posts(run)
    if mine is None or posts is None:
        return None
    kept = mine.filter(_usable()).join(posts, on=["source", "post_id"], how="inner")
    out = kept.with_columns(
        pl.col(c).map_elements(_scrub, return_dtype=pl.String)
        for c in ("text", "post_title", "post_text")
    )
    return out.sort("source", "user_id", "created_at", "comment_id", nulls_last=True)


def dropped_comments(run: RunFolder, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Rejects (``source``, ``record_id`` = comment id, ``reason``, ``detail``) for the genome
    users' comments that :func:`comments_table` leaves out."""
    empty = pl.DataFrame(schema={c: pl.String for c in ("source", "record_id", "reason", "detail")})
    mine = _users_comments(run, tables)
    if mine is None:
        return empty
    posts = _posts(run)
    if posts is not None:
        ids = posts.select("source", "post_id", pl.lit(True).alias("_known"))
        mine = mine.join(ids, on=["source", "post_id"], how="left")
    known = pl.col("_known").fill_null(False) if posts is not None else pl.lit(False)
    reason = (
        pl.when(~_usable())
        .then(pl.lit("comments.removed_or_empty"))
        .when(~known)
        .then(pl.lit("comments.unknown_post"))
    )
    detail = (
        pl.when(~_usable())
        .then(pl.lit("the comment is [removed], [deleted] or empty"))
        .otherwise(pl.format("post {} is not among the ingested records", pl.col("post_id")))
    )
    out = mine.select(
        "source",
        pl.col("comment_id").alias("record_id"),
        reason.alias("reason"),
        detail.alias("detail"),
    )
    return out.filter(pl.col("reason").is_not_null()) if out.height else empty


def _users_comments(run: RunFolder, tables: dict[str, pl.DataFrame]) -> pl.DataFrame | None:
    raw = _scan(run, "comments")
    if raw is None or "records" not in tables:
        return None
    users = tables["records"].select("source", "user_id").unique()
    return raw.join(users, on=["source", "user_id"], how="semi")


def _usable() -> pl.Expr:
    return ~pl.col("text").is_in(_GONE) & (pl.col("text") != "")


def _posts(run: RunFolder) -> pl.DataFrame | None:
    posts = run.scan("records")
    if posts is None:
        return None
    return (
        posts.select(
            "source",
            pl.col("record_id").alias("post_id"),
            pl.col("title").alias("post_title"),
            pl.col("text").alias("post_text"),
        )
        .unique(["source", "post_id"], keep="first")
        .collect()
    )


def _scrub(text: str) -> str:
    return scrub(text).text


def _count(run: RunFolder, folder: str, users: bool = False) -> dict[str, int]:
    lf = run.scan(folder)
    if lf is None:
        return {}
    expr = pl.col("user_id").n_unique() if users else pl.len()
    df = lf.group_by("source").agg(expr.alias("n")).collect()
    return {r["source"]: int(r["n"]) for r in df.to_dicts()}


def table_a1(run: RunFolder, tables: dict[str, pl.DataFrame]) -> dict[str, dict[str, int | None]]:
    """Per source: Raw texts, After DF texts, After DS users/scenarios/QA, After QC users/scenarios/QA."""

    def per_source(df: pl.DataFrame | None) -> dict[str, int]:
        if df is None or df.height == 0:
            return {}
        return {r["source"]: int(r["len"]) for r in df.group_by("source").len().to_dicts()}

    cols = {
        "raw_texts": _count(run, "records"),
        "df_texts": _count(run, "labeled"),
        "ds_users": _count(run, "users"),
        "ds_scenarios": _count(run, "scenarios"),
        "ds_social_qa": _count(run, "social_qa"),
        "qc_users": per_source(tables.get("users")),
        "qc_scenarios": per_source(tables.get("scenarios")),
        "qc_social_qa": per_source(tables.get("social_qa")),
    }
    sources = sorted({s for c in cols.values() for s in c})
    return {s: {k: c.get(s, 0) for k, c in cols.items()} for s in sources}


def run_genome(ctx: StageContext) -> StageResult:
    run = ctx.run
    out = run.stage_dir("genome")
    tables = build_tables(run)
    result = StageResult()
    for name in TABLES:
        if name in tables:
            atomic_write_parquet(tables[name], out / f"{name}.parquet")
    dropped = dropped_comments(run, tables)
    for (source,), part in dropped.group_by("source", maintain_order=True):
        n = run.write_rejects(ctx.stage, str(source), f"{source}-comments", part.drop("source"))
        result.extra.setdefault("comments_dropped", {})[str(source)] = n
    a1 = table_a1(run, tables)
    for source, row in a1.items():
        result.counts[source] = SourceCounts(
            records_in=row["raw_texts"] or 0, records_out=row["df_texts"] or 0
        )
    stats: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {name: int(df.height) for name, df in tables.items()},
        "table_a1": a1,
        "stages": {name: info for name, info in run.finished_stages() if name != "genome"},
    }
    atomic_write_text(json.dumps(stats, indent=2, default=str) + "\n", out / "stats.json")
    write_card(ctx, out, tables, stats)
    result.extra["tables"] = stats["tables"]
    result.extra["sources"] = {
        s: {"records": r["df_texts"] or 0, "users": r["qc_users"] or 0} for s, r in a1.items()
    }
    return result


def load_stats(run_dir: str | Path) -> dict[str, Any] | None:
    p = Path(run_dir) / "genome" / "stats.json"
    if not p.is_file():
        return None
    data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    return data
