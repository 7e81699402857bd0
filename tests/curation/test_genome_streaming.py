"""The genome stage streams: its tables, rejects, stats and card equal those of the plain
in-memory assembly (built here with eager polars), and no step materialises or sorts more rows
than a small key table or one part of users — whatever the number of records."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rich.console import Console

from humanllm.curation import genome, spill
from humanllm.curation.pii import scrub
from humanllm.curation.tables import FOLDER_SCHEMAS
from humanllm.records import COMMENT_SCHEMA, ITEM_SCHEMA, RECORD_SCHEMA, conform
from humanllm.runfolder import RunFolder
from humanllm.stage import StageContext
from tests.tasks.genome import config

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SHARDS = 3


def _shards(run: RunFolder, folder: str, df: pl.DataFrame) -> None:
    """``df`` written as interleaved shards (row i in shard i % SHARDS): a user's rows spread."""
    df = df.with_row_index("_i")
    for s in range(SHARDS):
        part = df.filter(pl.col("_i") % SHARDS == s).drop("_i")
        run.write_shard(folder, f"part-{s}", part)


def corpus(run: RunFolder, n_users: int, per_user: int) -> dict[str, int]:
    """A finished curation run folder of two sources; returns the sizes the bounds are made of."""
    recs: list[dict[str, Any]] = []
    for u in range(n_users):
        source = "shop" if u % 3 == 0 else "forum"
        for k in range(per_user):
            meta = json.dumps({"parent_asin": f"A{(u + k) % 7}"}) if source == "shop" else "{}"
            recs.append(
                {
                    "source": source,
                    "record_id": f"r{u}-{k}",
                    "user_id": f"u{u:03d}",
                    # ties in time and a missing time, to check the order of equal keys
                    "created_at": None if k == 1 else T0 + timedelta(days=(k * 7) % 5),
                    "text": f"post {k} of user {u}, mail me at u{u}@example.org",
                    "title": f"title {k}",
                    "meta": meta,
                }
            )
    records = conform(pl.DataFrame(recs, schema_overrides=RECORD_SCHEMA), RECORD_SCHEMA)
    # records/ holds one post twice (the first copy wins) and posts of users not in the genome
    others = records.filter(pl.col("user_id") == "u000").with_columns(
        pl.lit("zz").alias("user_id"), (pl.col("record_id") + "-other").alias("record_id")
    )
    dup = records.head(1).with_columns(pl.lit("second copy").alias("text"))
    _shards(run, "records", pl.concat([records, others, dup]))
    labeled = records.filter(pl.col("record_id").str.ends_with("-3").not_()).with_columns(
        pl.lit("high").alias("quality"), pl.lit(False).alias("harmful")
    )
    _shards(run, "labeled", conform(labeled, FOLDER_SCHEMAS["labeled"]))
    users = labeled.group_by("source", "user_id", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n_records")
    )
    users = users.with_columns(
        pl.format("persona of {}", "user_id").alias("persona"),
        pl.col("n_records").alias("n_records_shown"),
        pl.lit("terse").alias("writing_style"),
    )
    _shards(run, "users", conform(users, FOLDER_SCHEMAS["users"]))
    narr = labeled.filter(pl.col("source") == "forum")
    scen = narr.select(
        pl.col("record_id").alias("scenario_id"), "record_id", "user_id", "source"
    ).with_columns(pl.lit("noon").alias("time"), pl.lit("a story").alias("plots"))
    _shards(run, "scenarios", conform(scen, FOLDER_SCHEMAS["scenarios"]))
    qa = narr.select(
        (pl.col("record_id") + "-qa").alias("qa_id"), "record_id", "user_id", "source"
    ).with_columns(pl.lit("why?").alias("question"), pl.lit("action").alias("type"))
    _shards(run, "social_qa", conform(qa, FOLDER_SCHEMAS["social_qa"]))
    judged = pl.concat(
        [
            users.select(
                pl.lit("user").alias("kind"), pl.col("user_id").alias("item_id"), "source"
            ),
            scen.select(
                pl.lit("scenario").alias("kind"), pl.col("scenario_id").alias("item_id"), "source"
            ),
            qa.select(
                pl.lit("social_qa").alias("kind"), pl.col("qa_id").alias("item_id"), "source"
            ),
        ]
    ).with_row_index("_i")
    qc = judged.with_columns(
        (pl.col("_i") % 4 != 0).alias("passed"),
        (pl.col("_i") % 10).cast(pl.Int64).alias("overall"),
        pl.concat_str(pl.lit('{"overall": '), pl.col("_i"), pl.lit("}")).alias("scores"),
    )
    _shards(run, "qc", conform(qc, FOLDER_SCHEMAS["qc"]))
    items = pl.DataFrame(
        [{"source": "shop", "item_id": f"A{i % 9}", "title": f"item {i}"} for i in range(12)]
    )  # A0..A2 twice (the last wins), A7, A8 referenced by no record
    _shards(run, "items", conform(items, ITEM_SCHEMA))
    coms: list[dict[str, Any]] = []
    posts = records.filter(pl.col("source") == "forum")["record_id"].to_list()
    for u in range(n_users + 2):  # two commenters with no records in the genome
        for k in range(3):
            text = ["[removed]", "", "nice one, call 555-123-4567"][(u + k) % 3] if k else "me too"
            coms.append(
                {
                    "source": "forum",
                    "comment_id": f"c{u}-{k}",
                    "user_id": f"u{u:03d}",
                    "created_at": T0 + timedelta(hours=k % 2),
                    "text": text,
                    "post_id": posts[(u * 5 + k) % len(posts)] if k != 2 else f"gone{u}",
                    "parent_id": None,
                    "meta": "{}",
                }
            )
    _shards(
        run,
        "comments",
        conform(pl.DataFrame(coms, schema_overrides=COMMENT_SCHEMA), COMMENT_SCHEMA),
    )
    return {"labeled": labeled.height, "users": users.height, "per_user": per_user}


def _read(run: RunFolder, folder: str) -> pl.DataFrame:
    lf = run.scan(folder)
    assert lf is not None
    return lf.collect()


def expected(run: RunFolder) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """The genome's tables and its comment rejects, assembled in memory with eager polars."""
    qc = _read(run, "qc")

    def passed(kind: str) -> pl.DataFrame:
        return qc.filter((pl.col("kind") == kind) & pl.col("passed")).select(
            "source",
            "item_id",
            pl.col("overall").alias("qc_overall"),
            pl.col("scores").alias("qc_scores"),
        )

    labeled = _read(run, "labeled")
    out = {
        "users": _read(run, "users").join(
            passed("user"), left_on=["source", "user_id"], right_on=["source", "item_id"]
        ),
        "records": labeled.sort("source", "user_id", "created_at", nulls_last=True),
    }
    for name, id_col, kind in (
        ("scenarios", "scenario_id", "scenario"),
        ("social_qa", "qa_id", "social_qa"),
    ):
        out[name] = _read(run, name).join(
            passed(kind), left_on=["source", id_col], right_on=["source", "item_id"]
        )
    asins = labeled.select(
        pl.col("meta").str.json_path_match("$.parent_asin").alias("item_id")
    ).drop_nulls()
    out["items"] = (
        _read(run, "items")
        .join(asins.unique(), on="item_id", how="semi")
        .unique("item_id", keep="last")
    )
    posts = (
        _read(run, "records")
        .select(
            "source",
            pl.col("record_id").alias("post_id"),
            pl.col("title").alias("post_title"),
            pl.col("text").alias("post_text"),
        )
        .unique(["source", "post_id"], keep="first", maintain_order=True)
    )
    mine = _read(run, "comments").join(
        labeled.select("source", "user_id").unique(), on=["source", "user_id"], how="semi"
    )
    mine = mine.join(posts, on=["source", "post_id"], how="left")
    usable = ~pl.col("text").is_in(["[removed]", "[deleted]"]) & (pl.col("text") != "")
    ok = usable & pl.col("post_text").is_not_null()
    out["comments"] = (
        mine.filter(ok)
        .with_columns(
            pl.col(c).map_elements(lambda t: scrub(t).text, return_dtype=pl.String)
            for c in ("text", "post_title", "post_text")
        )
        .sort("source", "user_id", "created_at", "comment_id", nulls_last=True)
    )
    rest = mine.filter(~ok)
    dropped = rest.select(
        pl.lit("genome").alias("stage"),
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
    return out, dropped


def same_rows(got: pl.DataFrame, want: pl.DataFrame, name: str) -> None:
    assert got.columns == want.columns, name
    assert got.schema == want.schema, name
    assert got.sort(got.columns, nulls_last=True).equals(
        want.sort(want.columns, nulls_last=True)
    ), name


@contextmanager
def materialised() -> Iterator[dict[str, list[int]]]:
    """Record the rows of every frame polars materialises (``collect``) or sorts (an eager sort,
    or a sort inside a sink's query, by its input rows) while the block runs."""
    seen: dict[str, list[int]] = {"collect": [], "sort": []}
    collect, sort, sink = pl.LazyFrame.collect, pl.DataFrame.sort, pl.LazyFrame.sink_parquet

    def counting_collect(self: pl.LazyFrame, *a: Any, **k: Any) -> Any:
        df = collect(self, *a, **k)
        seen["collect"].append(df.height)
        return df

    def counting_sort(self: pl.DataFrame, *a: Any, **k: Any) -> Any:
        seen["sort"].append(self.height)
        return sort(self, *a, **k)

    def counting_sink(self: pl.LazyFrame, *a: Any, **k: Any) -> Any:
        if "SORT BY" in self.explain(optimized=False):
            seen["sort"].append(int(collect(self.select(pl.len())).item()))
        return sink(self, *a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(pl.LazyFrame, "collect", counting_collect)
    mp.setattr(pl.DataFrame, "sort", counting_sort)
    mp.setattr(pl.LazyFrame, "sink_parquet", counting_sink)
    try:
        yield seen
    finally:
        mp.undo()


def run_stage(root: Path, rows_per_part: int) -> StageContext:
    cfg = config(("reddit", "amazon"), executor={"records_per_unit": rows_per_part})
    run = RunFolder(root)
    ctx = StageContext(cfg=cfg, run=run, stage="genome", console=Console(file=io.StringIO()))
    return ctx


@pytest.mark.parametrize(("rows_per_part", "fanout"), [(100_000, 16), (40, 16), (25, 2)])
def test_genome_equals_the_in_memory_assembly(
    tmp_path: Path, rows_per_part: int, fanout: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one part; several parts in one split; parts split in rounds of two open files
    monkeypatch.setattr(spill, "FANOUT", fanout)
    ctx = run_stage(tmp_path, rows_per_part)
    corpus(ctx.run, n_users=24, per_user=9)
    want, want_dropped = expected(ctx.run)
    result = genome.run_genome(ctx)
    g = tmp_path / "genome"
    for name, df in want.items():
        got = pl.read_parquet(g / f"{name}.parquet")
        same_rows(got, df, name)
        assert df.height > 0, name
    for name, by in (("records", genome.RECORD_ORDER), ("comments", genome.COMMENT_ORDER)):
        got = pl.read_parquet(g / f"{name}.parquet")  # one global order: by user, then time
        assert got.select(by).equals(want[name].select(by)), name
    rejects = ctx.run.scan_rejects("genome")
    assert rejects is not None
    same_rows(rejects.collect(), want_dropped, "rejects")
    assert result.extra["comments_dropped"] == {"forum": want_dropped.height}
    stats = json.loads((g / "stats.json").read_text(encoding="utf-8"))
    assert stats["tables"] == {name: df.height for name, df in want.items()}
    forum = stats["table_a1"]["forum"]
    assert forum["qc_users"] == want["users"].filter(pl.col("source") == "forum").height
    assert forum["df_texts"] == want["records"].filter(pl.col("source") == "forum").height
    assert (
        forum["raw_texts"] == _read(ctx.run, "records").filter(pl.col("source") == "forum").height
    )
    card = (g / "README.md").read_text(encoding="utf-8")
    for name, df in want.items():
        assert f"`{name}.parquet` ({df.height:,} rows)" in card
    assert not [p for p in g.iterdir() if p.name.startswith(".")]  # no spill left behind


@pytest.mark.parametrize("n_users", [24, 96])
def test_genome_holds_a_key_table_or_a_part_never_a_table(tmp_path: Path, n_users: int) -> None:
    rows_per_part, per_user = 30, 9
    ctx = run_stage(tmp_path, rows_per_part)
    sizes = corpus(ctx.run, n_users=n_users, per_user=per_user)
    with materialised() as seen:
        genome.run_genome(ctx)
    # key tables: one row per user, per commented post or per referenced item (all ≤ 2 per user
    # here); a sort: one part of whole users. Neither grows with the records of a user.
    assert max(seen["collect"]) <= 2 * sizes["users"] < sizes["labeled"]
    assert seen["sort"], "records and comments are sorted"
    assert max(seen["sort"]) < rows_per_part + per_user


def test_genome_files_do_not_depend_on_the_part_size(tmp_path: Path) -> None:
    # executor settings never change outputs: rows equal on the sort keys keep one order too
    frames = []
    for rows_per_part in (100_000, 25):
        ctx = run_stage(tmp_path / str(rows_per_part), rows_per_part)
        corpus(ctx.run, n_users=24, per_user=9)
        genome.run_genome(ctx)
        g = ctx.run.stage_dir("genome")
        frames.append({name: pl.read_parquet(g / f"{name}.parquet") for name in genome.TABLES})
    for name in genome.TABLES:
        assert frames[0][name].equals(frames[1][name]), name
