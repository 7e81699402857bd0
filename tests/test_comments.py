"""Reddit comments and Twitter replies: readers, ingest, and the genome's comments table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from humanllm.config import validate_config
from humanllm.curation.genome import write_comments
from humanllm.executor import run_stages
from humanllm.records import COMMENT_SCHEMA, RECORD_SCHEMA
from humanllm.runfolder import RunFolder
from humanllm.sources import SourceError
from humanllm.sources.comments import read_comments
from humanllm.sources.config import RedditSource, TwitterSource

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def genome_comments(
    run: RunFolder, records: pl.DataFrame
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """The genome's comments and their rejects, with ``records`` as the genome's records
    (``labeled/``): what the genome stage writes to ``genome/comments.parquet`` and ``rejects/``."""
    run.write_shard("labeled", "all-00000", records)
    out = run.root / "genome-out"
    work = run.root / "genome-work"
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    n, _ = write_comments(run, out, "genome", 1000, work)
    table = None if n is None else pl.read_parquet(out / "comments.parquet")
    dropped = run.scan_rejects("genome")
    cols = ["source", "record_id", "reason", "detail"]
    return table, (
        pl.DataFrame(schema={c: pl.String for c in cols})
        if dropped is None
        else dropped.select(cols).collect()
    )


def read_all(cfg: RedditSource | TwitterSource) -> tuple[pl.DataFrame, pl.DataFrame]:
    chunks = list(read_comments(cfg))
    comments = pl.concat([c.records for c in chunks]) if chunks else pl.DataFrame()
    rejects = pl.concat([c.rejects for c in chunks if c.rejects is not None])
    return comments, rejects


def rc(**over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "c1", "author": "ann", "body": "Nice &amp; warm.\n\nAgreed.", "created_utc": "1600000000",
        "link_id": "t3_p1", "parent_id": "t1_c0", "score": "4", "subreddit": "AskReddit",
    }  # fmt: skip
    row.update(over)
    return row


def test_reddit_comments_parquet_with_all_string_columns(tmp_path: Path) -> None:
    rows = [rc(), rc(id="c2", parent_id="t3_p1", score=None), rc(id="c3", created_utc="soon")]
    path = tmp_path / "comments.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    comments, rejects = read_all(RedditSource(path="unused", comments=str(path)))
    assert comments.schema == pl.Schema(COMMENT_SCHEMA)
    first = comments.row(0, named=True)
    assert first["text"] == "Nice & warm. Agreed."  # normalised as records are
    assert (first["post_id"], first["parent_id"]) == ("p1", "c0")  # prefixes stripped
    assert first["created_at"] == datetime.fromtimestamp(1600000000, UTC)
    assert json.loads(first["meta"]) == {
        "score": 4,
        "subreddit": "AskReddit",
        "distinguished": None,
    }
    assert comments.row(1, named=True)["parent_id"] == "p1"  # top level: answers the post
    assert rejects.rows() == [("c3", "parse.bad_time", f"{path}:row 3: created_utc is not a time")]


def test_pushshift_jsonl_zst_and_missing_fields(tmp_path: Path) -> None:
    lines = [rc(), rc(id="c2", link_id=None), rc(id=None), "not json"]
    raw = "".join((json.dumps(r) if isinstance(r, dict) else r) + "\n" for r in lines)
    path = tmp_path / "RC_2020-01.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(raw.encode()))
    comments, rejects = read_all(RedditSource(path="unused", comments=str(path)))
    assert comments["comment_id"].to_list() == ["c1"]
    reasons = dict(zip(rejects["record_id"], rejects["detail"], strict=True))
    assert reasons["c2"] == f"{path}:2: link_id is missing"
    assert reasons["RC_2020-01.zst:3"] == f"{path}:3: id is missing"
    assert reasons["RC_2020-01.zst:4"].startswith(f"{path}:4: ")


def test_twitter_replies_need_the_answered_tweet(tmp_path: Path) -> None:
    good = tmp_path / "replies.parquet"
    pq.write_table(
        pa.table(
            {
                "id": [11, 12],
                "user": ["bea", "bea"],
                "tweet": ["So true.", "Ha!"],
                "date": ["2023-05-03 10:00:00+00:00", "2023-05-04 10:00:00+00:00"],
                "in_reply_to_status_id": [1, None],
            }
        ),
        good,
    )
    comments, rejects = read_all(TwitterSource(path="unused", replies=str(good)))
    assert comments.select("comment_id", "user_id", "post_id", "parent_id").rows() == [
        ("11", "bea", "1", "1")
    ]
    assert rejects["reason"].to_list() == ["parse.missing_field"]
    bad = tmp_path / "no_reply_column.parquet"
    pq.write_table(pa.table({"id": [1], "user": ["x"], "tweet": ["t"], "date": ["2023"]}), bad)
    with pytest.raises(SourceError, match="in_reply_to_id"):
        read_all(TwitterSource(path="unused", replies=str(bad)))


def test_no_comments_file_reads_nothing() -> None:
    assert list(read_comments(RedditSource(path="unused"))) == []


def test_ingest_writes_comments_and_the_genome_joins_them_with_their_posts(tmp_path: Path) -> None:
    cfg = validate_config(
        {
            "sources": [
                {
                    "kind": "reddit",
                    "path": str(SAMPLE / "reddit"),
                    "comments": str(SAMPLE / "reddit-comments"),
                },
                {
                    "kind": "twitter",
                    "path": str(SAMPLE / "twitter" / "tweets.parquet"),
                    "replies": str(SAMPLE / "twitter" / "replies.parquet"),
                },
            ]
        }
    )
    run = RunFolder(tmp_path / "run")
    run_stages(cfg, run.root, ["ingest"])
    comments = pl.read_parquet(run.root / "comments" / "*.parquet")
    assert comments.group_by("source").len().sort("source").rows() == [
        ("reddit", 19),
        ("twitter", 18),
    ]
    rejects = pl.read_parquet(run.root / "rejects" / "*.parquet")
    assert rejects.filter(pl.col("record_id") == "rc020")["reason"].to_list() == [
        "parse.missing_field"
    ]
    # the genome keeps the comments of its users, on posts the ingest read, with the post
    records = pl.read_parquet(run.root / "records" / "*.parquet")
    users = ["maple_and_moss", "breadcrumbs_42", "nightnurse_jo"]
    genome_records = records.filter(pl.col("user_id").is_in(users))
    table, dropped = genome_comments(run, genome_records)
    assert table is not None
    assert set(table["user_id"]) == set(users)
    assert "rc019" not in table["comment_id"].to_list()  # "[removed]"
    assert table.filter(pl.col("user_id") == "breadcrumbs_42").height == 3
    row = table.filter(pl.col("comment_id") == "rc001").row(0, named=True)
    assert row["post_title"].startswith("I gave my first presentation at work")
    assert row["post_text"].startswith(row["post_title"])
    reply = table.filter(pl.col("comment_id") == "1640000000000000001").row(0, named=True)
    assert reply["post_text"].startswith("My grandson visited")
    assert dropped.select("record_id", "reason").rows() == [("rc019", "comments.removed_or_empty")]


def test_comments_on_posts_never_ingested_are_rejects(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    when = datetime(2020, 1, 1, tzinfo=UTC)
    post = {"source": "reddit", "record_id": "p1", "user_id": "ann", "created_at": when,
            "text": "Post.", "title": "Post.", "meta": "{}"}  # fmt: skip
    run.write_shard("records", "reddit-00000", pl.DataFrame([post], schema=RECORD_SCHEMA))
    rows = [
        {"source": "reddit", "comment_id": cid, "user_id": "ann", "created_at": when, "text": "Hi.",
         "post_id": pid, "parent_id": pid, "meta": "{}"}
        for cid, pid in (("c1", "p1"), ("c2", "gone"))
    ]  # fmt: skip
    run.write_shard("comments", "reddit-c", pl.DataFrame(rows, schema=COMMENT_SCHEMA))
    table, dropped = genome_comments(run, pl.DataFrame([post], schema=RECORD_SCHEMA))
    assert table is not None and table["comment_id"].to_list() == ["c1"]
    assert dropped.rows() == [
        ("reddit", "c2", "comments.unknown_post", "post gone is not among the ingested records")
    ]


def test_genome_comments_pass_the_pii_net(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    post = {
        "source": "reddit", "record_id": "p1", "user_id": "bob",
        "created_at": datetime(2020, 1, 1, tzinfo=UTC), "text": "Post. Mail bob@example.org",
        "title": "Post.", "meta": "{}",
    }  # fmt: skip
    run.write_shard("records", "reddit-00000", pl.DataFrame([post], schema=RECORD_SCHEMA))
    comment = {
        "source": "reddit", "comment_id": "c1", "user_id": "ann",
        "created_at": datetime(2020, 1, 2, tzinfo=UTC), "text": "Call me on +44 20 7946 0958.",
        "post_id": "p1", "parent_id": "p1", "meta": "{}",
    }  # fmt: skip
    run.write_shard("comments", "reddit-c", pl.DataFrame([comment], schema=COMMENT_SCHEMA))
    mine = pl.DataFrame([{**post, "user_id": "ann", "record_id": "p2"}], schema=RECORD_SCHEMA)
    table, _ = genome_comments(run, mine)
    assert table is not None and table.height == 1
    row = table.row(0, named=True)
    assert "7946" not in row["text"] and "555-0100" in row["text"]
    assert "bob@example.org" not in row["post_text"]
