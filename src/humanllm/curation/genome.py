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
from humanllm.curation.tables import FOLDER_SCHEMAS, QC_COLUMNS
from humanllm.records import conform
from humanllm.runfolder import RunFolder, SourceCounts, atomic_write_parquet, atomic_write_text
from humanllm.stage import StageContext, StageResult

TABLES = ("users", "records", "scenarios", "social_qa", "items", "comments")
#: Comment bodies that say the comment is gone.
_GONE = ["[removed]", "[deleted]"]
_POST_COLS = ("post_title", "post_text")


def code_version() -> str:
    """The stage's version: a digest of the code that assembles the tables and the card."""
    h = hashlib.sha256()
    for name in ("genome", "card", "pii", "tables"):
        h.update(Path(__file__).with_name(f"{name}.py").read_bytes())
    return h.hexdigest()[:12]


def _scan(run: RunFolder, folder: str) -> pl.DataFrame | None:
    lf = run.scan(folder)
    return None if lf is None else lf.collect()


def _table(run: RunFolder, folder: str) -> pl.DataFrame:
    """A curation folder as a table of its declared schema: empty (with its columns) when the
    stage wrote nothing, e.g. when a weak model's every reply was rejected."""
    schema = FOLDER_SCHEMAS[folder]
    df = _scan(run, folder)
    if df is None:
        return pl.DataFrame(schema=schema)
    extra = [c for c in df.columns if c not in schema]
    typed = conform(df, schema)
    return typed.hstack(df.select(extra)) if extra else typed


def _passed(run: RunFolder, kind: str) -> pl.DataFrame:
    qc = _scan(run, "qc")
    if qc is None:
        return pl.DataFrame(schema={"source": pl.String, "item_id": pl.String, **QC_COLUMNS})
    return qc.filter((pl.col("kind") == kind) & pl.col("passed")).select(
        "source",
        "item_id",
        pl.col("overall").alias("qc_overall"),
        pl.col("scores").alias("qc_scores"),
    )


def build_tables(run: RunFolder) -> dict[str, pl.DataFrame]:
    """The genome's tables; ``users``, ``records``, ``scenarios`` and ``social_qa`` always (empty
    with their columns when nothing reached them), ``items`` and ``comments`` when ingested."""
    tables: dict[str, pl.DataFrame] = {}
    tables["users"] = _table(run, "users").join(
        _passed(run, "user"),
        left_on=["source", "user_id"],
        right_on=["source", "item_id"],
        how="inner",
    )
    tables["records"] = _table(run, "labeled").sort(
        "source", "user_id", "created_at", nulls_last=True
    )
    for name, id_col, kind in (
        ("scenarios", "scenario_id", "scenario"),
        ("social_qa", "qa_id", "social_qa"),
    ):
        tables[name] = _table(run, name).join(
            _passed(run, kind), left_on=["source", id_col], right_on=["source", "item_id"]
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
    return tables


def genome_comments(
    run: RunFolder, tables: dict[str, pl.DataFrame]
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """``(kept, dropped)``: the comments (replies) of the genome's users — ``comments/`` rows of
    a user with records in the genome — split in one pass.

    ``kept`` (None without ``comments/``): the usable ones on a post the ingest read, joined with
    its ``post_title`` and ``post_text`` (from ``records/``: any post, not only those that passed
    the filters, since a user comments on other people's posts), the PII safety net run over
    comment and post text (comments are not rewritten by ``clean``). ``dropped``: rejects
    (``source``, ``record_id`` = comment id, ``reason``, ``detail``) for the others."""
    dropped = pl.DataFrame(
        schema={c: pl.String for c in ("source", "record_id", "reason", "detail")}
    )
    raw = _scan(run, "comments")
    if raw is None or "records" not in tables:
        return None, dropped
    users = tables["records"].select("source", "user_id").unique()
    mine = raw.join(users, on=["source", "user_id"], how="semi")
    posts = run.scan("records")
    if posts is not None:  # only the posts these comments answer
        wanted = mine.select("source", "post_id").unique().lazy()
        found = (
            posts.select(
                "source",
                pl.col("record_id").alias("post_id"),
                pl.col("title").alias("post_title"),
                pl.col("text").alias("post_text"),
            )
            .join(wanted, on=["source", "post_id"], how="semi")
            .unique(["source", "post_id"], keep="first")
            .collect()
        )
        mine = mine.join(found, on=["source", "post_id"], how="left")
    else:
        mine = mine.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in _POST_COLS)
    usable = ~pl.col("text").is_in(_GONE) & (pl.col("text") != "")
    known = pl.col("post_text").is_not_null()
    kept = mine.filter(usable & known).with_columns(
        pl.col(c).map_elements(_scrub, return_dtype=pl.String) for c in ("text", *_POST_COLS)
    )
    rest = mine.filter(~(usable & known))
    if rest.height:
        dropped = rest.select(
            "source",
            pl.col("comment_id").alias("record_id"),
            pl.when(~usable)
            .then(pl.lit("comments.removed_or_empty"))
            .otherwise(pl.lit("comments.unknown_post"))
            .alias("reason"),
            pl.when(~usable)
            .then(pl.lit("the comment is [removed], [deleted] or empty"))
            .otherwise(pl.format("post {} is not among the ingested records", pl.col("post_id")))
            .alias("detail"),
        )
    return kept.sort("source", "user_id", "created_at", "comment_id", nulls_last=True), dropped


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
    comments, dropped = genome_comments(run, tables)
    if comments is not None:
        tables["comments"] = comments
    result = StageResult()
    for name in TABLES:
        if name in tables:
            atomic_write_parquet(tables[name], out / f"{name}.parquet")
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
