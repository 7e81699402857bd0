"""Stage ``genome``: the Cognitive Genome dataset — Parquet tables ``users``, ``records``
(cleaned, labelled high quality and harmless), ``scenarios``, ``social_qa`` (the items that passed
QC), ``items`` (Amazon) and ``comments`` (Reddit comments / Twitter replies of the genome's users,
when a source gives them), joined by ``source`` + ``user_id`` / ``record_id`` / ``item_id``; a
dataset card ``README.md``; ``stats.json`` with the paper's Table A1 layout.

Memory does not grow with the corpus: tables stream from their folders to the genome's files
(Polars' streaming engine), a join holds only its small side (QC's passed keys, the genome's
users, the posts wanted), counts are lazy aggregations, and ``records`` and ``comments`` are
sorted by user one part of whole users at a time (``executor.records_per_unit`` rows, see
:mod:`humanllm.curation.spill`) into the same order one global sort gives."""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from humanllm.curation.card import TableRows, write_card
from humanllm.curation.pii import scrub
from humanllm.curation.spill import partition, sink, sort_by_user
from humanllm.curation.tables import FOLDER_SCHEMAS
from humanllm.records import REJECT_SCHEMA
from humanllm.runfolder import RunFolder, SourceCounts, atomic_write_text
from humanllm.stage import StageContext, StageResult

TABLES = ("users", "records", "scenarios", "social_qa", "items", "comments")
#: Comment bodies that say the comment is gone.
_GONE = ["[removed]", "[deleted]"]
_POST_COLS = ("post_title", "post_text")
USER_KEY = ["source", "user_id"]
#: The order of ``records``: all rows of a user together, in time order.
RECORD_ORDER = [*USER_KEY, "created_at"]
COMMENT_ORDER = [*USER_KEY, "created_at", "comment_id"]
#: Seed of the hash that puts a comment and its post in the same bucket (any fixed value).
_HASH_SEED = 14


def code_version() -> str:
    """The stage's version: a digest of the code that assembles the tables and the card."""
    h = hashlib.sha256()
    for name in ("genome", "card", "pii", "tables", "spill"):
        h.update(Path(__file__).with_name(f"{name}.py").read_bytes())
    return h.hexdigest()[:12]


def _table(run: RunFolder, folder: str) -> pl.LazyFrame:
    """A curation folder as a frame of its declared schema (then any other columns it has): empty
    (with its columns) when the stage wrote nothing, e.g. when a weak model's every reply was
    rejected."""
    schema = FOLDER_SCHEMAS[folder]
    lf = run.scan(folder)
    if lf is None:
        return pl.LazyFrame(schema=schema)
    names = lf.collect_schema().names()
    typed = [
        pl.col(c).cast(t) if c in names else pl.lit(None, dtype=t).alias(c)
        for c, t in schema.items()
    ]
    return lf.select(*typed, *[c for c in names if c not in schema])


def _passed(run: RunFolder, kind: str) -> pl.LazyFrame:
    """The keys and scores of the ``kind`` items that passed QC: the small side of each join."""
    return (
        _table(run, "qc")
        .filter((pl.col("kind") == kind) & pl.col("passed"))
        .select(
            "source",
            "item_id",
            pl.col("overall").alias("qc_overall"),
            pl.col("scores").alias("qc_scores"),
        )
    )


def _with_qc(run: RunFolder, folder: str, id_col: str, kind: str) -> pl.LazyFrame:
    return _table(run, folder).join(
        _passed(run, kind),
        left_on=["source", id_col],
        right_on=["source", "item_id"],
        how="inner",
        maintain_order="left",
        build_side="force_right",
    )


def write_tables(run: RunFolder, out: Path, rows_per_part: int, tmp: Path) -> dict[str, int]:
    """Write the genome's tables to ``out``; their row counts. ``users``, ``records``,
    ``scenarios`` and ``social_qa`` always (empty with their columns when nothing reached them),
    ``items`` when ingested (``comments``: :func:`write_comments`). Every table streams from its
    folder: the joins hold only QC's passed keys, the sort of ``records`` one part of users."""
    heights = {"users": sink(_with_qc(run, "users", "user_id", "user"), out / "users.parquet")}
    heights["records"] = sort_by_user(
        _table(run, "labeled"), RECORD_ORDER, USER_KEY, out / "records.parquet", rows_per_part, tmp
    )
    for name, id_col, kind in (
        ("scenarios", "scenario_id", "scenario"),
        ("social_qa", "qa_id", "social_qa"),
    ):
        heights[name] = sink(_with_qc(run, name, id_col, kind), out / f"{name}.parquet")
    items = run.scan("items")
    if items is not None:
        asins = (
            pl.scan_parquet(out / "records.parquet")
            .filter(pl.col("meta").str.contains('"parent_asin"'))
            .select(pl.col("meta").str.json_path_match("$.parent_asin").alias("item_id"))
            .unique()
            .collect(engine="streaming")
        )
        numbered = items.with_row_index("_row")
        last = (  # the last row of each referenced item, as today's unique(keep="last")
            numbered.join(asins.lazy(), on="item_id", how="semi")
            .group_by("item_id")
            .agg(pl.col("_row").max())
            .collect(engine="streaming")
        )
        heights["items"] = sink(
            numbered.join(last.lazy(), on=["item_id", "_row"], how="semi").drop("_row"),
            out / "items.parquet",
        )
    return heights


def write_comments(
    run: RunFolder, out: Path, stage: str, rows_per_part: int, tmp: Path
) -> tuple[int | None, dict[str, int]]:
    """``(kept, dropped per source)``: write ``out/comments.parquet``, the comments (replies) of
    the genome's users — ``comments/`` rows of a user with records in the genome — and the
    rejects of the others, split in one pass.

    Kept (None without ``comments/``): the usable ones on a post the ingest read, joined with its
    ``post_title`` and ``post_text`` (from ``records/``: any post, not only those that passed the
    filters, since a user comments on other people's posts), the PII safety net run over comment
    and post text (comments are not rewritten by ``clean``), sorted by user and time. Dropped:
    rejects (``record_id`` = comment id, ``reason``, ``detail``) for the others. The comments meet
    their posts bucket by bucket (a hash of the post id), so no side is held whole."""
    raw = run.scan("comments")
    if raw is None:
        return None, {}
    users = _table(run, "labeled").select(USER_KEY).unique().collect(engine="streaming")
    mine = raw.join(users.lazy(), on=USER_KEY, how="semi", build_side="force_right")
    joined = _with_posts(run, mine, rows_per_part, tmp)
    usable = ~pl.col("text").is_in(_GONE) & (pl.col("text") != "")
    known = pl.col("post_text").is_not_null()
    kept = joined.filter(usable & known).with_columns(
        pl.col(c).map_elements(_scrub, return_dtype=pl.String) for c in ("text", *_POST_COLS)
    )
    n = sort_by_user(kept, COMMENT_ORDER, USER_KEY, out / "comments.parquet", rows_per_part, tmp)
    rest = joined.filter(~(usable & known)).select(
        pl.lit(stage).alias("stage"),
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
    dropped = tmp / "dropped.parquet"
    sink(rest.select(pl.col(c).cast(t) for c, t in REJECT_SCHEMA.items()), dropped)
    per_source = pl.scan_parquet(dropped).group_by("source").len().collect(engine="streaming")
    counts: dict[str, int] = {}
    for source in sorted(per_source["source"].to_list()):
        # as RunFolder.write_rejects names them, streamed
        path = run.rejects_dir / f"{stage}-{source}-comments.parquet"
        counts[source] = sink(pl.scan_parquet(dropped).filter(pl.col("source") == source), path)
    return n, counts


def _with_posts(run: RunFolder, mine: pl.LazyFrame, rows_per_part: int, tmp: Path) -> pl.LazyFrame:
    """``mine`` (comments) left-joined with ``post_title`` and ``post_text`` of the post each
    answers (the first copy in ``records/``), in buckets of about ``rows_per_part`` comments."""
    posts = run.scan("records")
    if posts is None:
        return mine.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in _POST_COLS)
    post_key = ["source", "post_id"]
    wanted = mine.select(post_key).unique().collect(engine="streaming")
    found = posts.select(
        "source",
        pl.col("record_id").alias("post_id"),
        pl.col("title").alias("post_title"),
        pl.col("text").alias("post_text"),
    ).join(wanted.lazy(), on=post_key, how="semi", build_side="force_right")
    n_mine = int(mine.select(pl.len()).collect(engine="streaming").item())
    n_buckets = max(1, math.ceil(n_mine / rows_per_part))
    if n_buckets == 1:
        parts = [(mine, found)]
    else:
        bucket = (pl.struct(post_key).hash(_HASH_SEED) % n_buckets).cast(pl.Int64).alias("_b")
        parts = list(
            zip(
                partition(mine.with_columns(bucket), "_b", n_buckets, tmp, rows_per_part),
                partition(found.with_columns(bucket), "_b", n_buckets, tmp, rows_per_part),
                strict=True,
            )
        )
    files = []
    for i, (comments, bucket_posts) in enumerate(parts):
        first = bucket_posts.unique(post_key, keep="first", maintain_order=True)
        f = tmp / f"with-posts-{i:06d}.parquet"
        sink(comments.join(first, on=post_key, how="left", maintain_order="left"), f)
        files.append(f)
    return pl.scan_parquet(files, hive_partitioning=False)


def _scrub(text: str) -> str:
    return scrub(text).text


def _count(lf: pl.LazyFrame | None, users: bool = False) -> dict[str, int]:
    if lf is None:
        return {}
    expr = pl.col("user_id").n_unique() if users else pl.len()
    df = lf.group_by("source").agg(expr.alias("n")).collect(engine="streaming")
    return {r["source"]: int(r["n"]) for r in df.to_dicts()}


def table_a1(run: RunFolder, out: Path) -> dict[str, dict[str, int | None]]:
    """Per source: Raw texts, After DF texts, After DS users/scenarios/QA, After QC
    users/scenarios/QA (the last three counted in the genome's tables under ``out``)."""

    def genome(name: str) -> dict[str, int]:
        return _count(pl.scan_parquet(out / f"{name}.parquet"))

    cols = {
        "raw_texts": _count(run.scan("records")),
        "df_texts": _count(run.scan("labeled")),
        "ds_users": _count(run.scan("users")),
        "ds_scenarios": _count(run.scan("scenarios")),
        "ds_social_qa": _count(run.scan("social_qa")),
        "qc_users": genome("users"),
        "qc_scenarios": genome("scenarios"),
        "qc_social_qa": genome("social_qa"),
    }
    sources = sorted({s for c in cols.values() for s in c})
    return {s: {k: c.get(s, 0) for k, c in cols.items()} for s in sources}


def run_genome(ctx: StageContext) -> StageResult:
    run = ctx.run
    out = run.stage_dir("genome")
    out.mkdir(parents=True, exist_ok=True)
    rows_per_part = ctx.cfg.executor.records_per_unit
    result = StageResult()
    with tempfile.TemporaryDirectory(prefix=".spill-", dir=out) as spill:
        tmp = Path(spill)
        heights = write_tables(run, out, rows_per_part, tmp)
        n_comments, dropped = write_comments(run, out, ctx.stage, rows_per_part, tmp)
    if n_comments is not None:
        heights["comments"] = n_comments
    if dropped:
        result.extra["comments_dropped"] = dropped
    a1 = table_a1(run, out)
    for source, row in a1.items():
        result.counts[source] = SourceCounts(
            records_in=row["raw_texts"] or 0, records_out=row["df_texts"] or 0
        )
    stats: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {name: heights[name] for name in TABLES if name in heights},
        "table_a1": a1,
        "stages": {name: info for name, info in run.finished_stages() if name != "genome"},
    }
    atomic_write_text(json.dumps(stats, indent=2, default=str) + "\n", out / "stats.json")
    write_card(ctx, out, {name: TableRows(n) for name, n in stats["tables"].items()}, stats)
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
