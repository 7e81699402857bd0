"""Amazon Reviews 2023 reader (synthetic files), the Amazon rules and k-core, and the sample
corpus through ``ingest`` + ``filter``."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from humanllm.config import validate_config
from humanllm.executor import run_stages
from humanllm.filters.amazon import flag, kcore, kcore_rounds
from humanllm.filters.config import FilterConfig
from humanllm.sources import SourceError
from humanllm.sources.amazon import read
from humanllm.sources.config import AmazonSource

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
TEXT = "I bought this for my kitchen and it has held up to daily use for months without any trouble at all. Recommended."


def review(n: int, **over: Any) -> dict[str, Any]:
    row = {
        "rating": 4.0,
        "title": f"Title {n}",
        "text": f"{TEXT} #{n}",
        "images": [],
        "asin": f"V{n % 3}",
        "parent_asin": f"P{n % 3}",
        "user_id": f"U{n}",
        "timestamp": 1588687728923 + n,
        "helpful_vote": n,
        "verified_purchase": True,
    }
    row.update(over)
    return row


def item(asin: str, **over: Any) -> dict[str, Any]:
    row = {
        "main_category": "Home",
        "title": f"Item {asin}",
        "features": ["Sturdy", "Light"],
        "description": ["A thing."],
        "price": "$12.99",
        "images": [{"large": "x"}],
        "videos": [],
        "store": "Shop",
        "categories": ["Home", "Kitchen"],
        "details": {"Color": "Red"},
        "parent_asin": asin,
        "average_rating": 4.1,
        "rating_number": 10,
        "bought_together": None,
    }
    row.update(over)
    return row


def write(path: Path, rows: list[Any]) -> Path:
    data = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def read_all(path: Path | str, **kw: Any) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    chunks = list(read(AmazonSource(path=str(path), **kw)))
    records = pl.concat([c.records for c in chunks]) if chunks else pl.DataFrame()
    rej = [c.rejects for c in chunks if c.rejects is not None]
    items = [c.items for c in chunks if c.items is not None]
    empty = pl.DataFrame(schema={"record_id": pl.String, "reason": pl.String, "detail": pl.String})
    return records, pl.concat(rej) if rej else empty, pl.concat(items) if items else pl.DataFrame()


def metas(records: pl.DataFrame) -> list[dict[str, Any]]:
    return [json.loads(m) for m in records["meta"]]


# --- reader ---------------------------------------------------------------------------------------
def test_reviews_items_and_join(tmp_path: Path) -> None:
    write(tmp_path / "Toys.jsonl", [review(0), review(1, images=[{"a": 1}, {"b": 2}]), review(2)])
    write(tmp_path / "meta_Toys.jsonl", [item("P0"), item("P1", price="None"), item("P9", price=5)])
    records, rejects, items = read_all(tmp_path)
    assert rejects.height == 0 and records.height == 3  # the meta file is not read as reviews
    first = records.row(0, named=True)
    assert first["record_id"] == "U0-P0-1588687728923"
    assert first["created_at"] == datetime(2020, 5, 5, 14, 8, 48, 923000, tzinfo=UTC)
    assert (first["title"], first["user_id"], first["source"]) == ("Title 0", "U0", "amazon")
    m0, m1, m2 = metas(records)
    assert m0 == {
        "parent_asin": "P0",
        "asin": "V0",
        "rating": 4.0,
        "item_title": "Item P0",
        "helpful_vote": 0,
        "verified_purchase": True,
        "n_images": 0,
        "category": "Toys",
    }
    assert m1["n_images"] == 2 and m1["item_title"] == "Item P1"
    assert m2["item_title"] is None  # P2 has no metadata: still a record
    by_id = {r["item_id"]: r for r in items.to_dicts()}
    assert set(by_id) == {"P0", "P1", "P9"}
    assert (
        by_id["P0"]["price"] == 12.99
        and by_id["P1"]["price"] is None
        and by_id["P9"]["price"] == 5.0
    )
    assert json.loads(by_id["P0"]["meta"])["price_raw"] == "$12.99"
    assert json.loads(by_id["P0"]["categories"]) == ["Home", "Kitchen"]
    assert by_id["P0"]["features"] == "Sturdy\nLight"
    assert json.loads(by_id["P0"]["meta"])["details"] == {"Color": "Red"}


def test_gzip_meta_path_and_small_batches(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "m").mkdir()
    write(tmp_path / "r" / "Books.jsonl.gz", [review(n) for n in range(7)])
    write(
        tmp_path / "m" / "meta_Books.jsonl.gz", [item(f"P{n}", title=f"Book {n}") for n in range(3)]
    )
    records, _, items = read_all(tmp_path / "r", meta_path=str(tmp_path / "m"), batch_size=2)
    assert records.height == 7 and items.height == 3
    assert [m["item_title"] for m in metas(records)] == [f"Book {n % 3}" for n in range(7)]


def test_only_meta_files_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / "meta_Toys.jsonl", [item("P0")])
    with pytest.raises(SourceError, match="only item metadata"):
        list(read(AmazonSource(path=str(tmp_path))))


@pytest.mark.parametrize(
    ("line", "reason", "needle"),
    [
        ('{"rating": 5.0, "title": "cut', "parse.bad_json", "Toys.jsonl:2:"),
        ("[1, 2]", "parse.not_object", "Toys.jsonl:2:"),
        (review(9, rating="five"), "parse.bad_type", "'rating'"),
        (review(9, timestamp="1588687728923"), "parse.bad_type", "'timestamp'"),
        (review(9, user_id=None), "parse.missing_field", "'user_id'"),
        (review(9, parent_asin=None, asin=None), "parse.missing_field", "'parent_asin'"),
        (review(9, text=None), "parse.missing_field", "'text'"),
        (review(9, verified_purchase="yes"), "parse.bad_type", "'verified_purchase'"),
        (review(9, timestamp=10**30), "parse.bad_value", "'timestamp'"),
    ],
)
def test_bad_lines_are_rejects(tmp_path: Path, line: Any, reason: str, needle: str) -> None:
    write(tmp_path / "Toys.jsonl", [review(0), line, review(2)])
    records, rejects, _ = read_all(tmp_path)
    assert records["user_id"].to_list() == ["U0", "U2"]
    assert rejects.rows() == [("Toys.jsonl:2", reason, rejects["detail"][0])]
    assert needle in rejects["detail"][0] and "Toys.jsonl:2" in rejects["detail"][0]


def test_invalid_utf8_is_kept_with_replacement(tmp_path: Path) -> None:
    f = write(tmp_path / "Toys.jsonl", [review(0)])
    f.write_bytes(f.read_bytes().replace(b"kitchen", b"kitch\xff\xfen"))
    records, rejects, _ = read_all(f)
    assert rejects.height == 0
    assert "kitch\ufffd\ufffdn" in records["text"][0]
    assert metas(records)[0]["bad_utf8"] is True


def test_empty_file_gives_nothing(tmp_path: Path) -> None:
    (tmp_path / "Toys.jsonl").write_bytes(b"")
    records, rejects, items = read_all(tmp_path)
    assert records.height == 0 and rejects.height == 0 and items.height == 0


def test_truncated_gzip_keeps_earlier_records(tmp_path: Path) -> None:
    f = write(
        tmp_path / "Toys.jsonl.gz", [review(n, text=f"{TEXT} {'x' * 3000} {n}") for n in range(200)]
    )
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    records, rejects, _ = read_all(f)
    assert 0 < records.height < 200
    assert records["user_id"].to_list() == [f"U{n}" for n in range(records.height)]
    assert rejects["reason"].to_list() == ["parse.truncated_file"]
    assert (
        "Toys.jsonl.gz" in rejects["detail"][0] and f"line {records.height}" in rejects["detail"][0]
    )


def test_ten_megabyte_review(tmp_path: Path) -> None:
    big = "I loved it. " * 900_000
    records, _, _ = read_all(write(tmp_path / "Toys.jsonl", [review(0, text=big)]))
    assert records["text"].str.len_chars()[0] == len(big.strip())


# --- rules and k-core ----------------------------------------------------------------------------
def test_kcore_cascades_to_a_fixed_point() -> None:
    # items need 2 rows, users 2. x has one row -> a loses a-x, a is left with 1 -> a-y goes;
    # c has one row -> c-z goes; round 2: y and z are down to one row each -> b's rows go.
    # The d/e x p/q block is a 2-core and stays.
    pairs = pl.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "d", "d", "e", "e"],
            "item_id": ["x", "y", "y", "z", "z", "p", "q", "p", "q"],
        }
    )
    out = kcore_rounds(pairs, 2, 2)
    assert out["rule"].to_list() == [1, 2, 1, 1, 2, 0, 0, 0, 0]
    assert out["round"].to_list() == [1, 1, 2, 2, 1, 0, 0, 0, 0]
    assert kcore(pairs.lazy(), 2, 2).to_list() == [False] * 5 + [True] * 4


def reference_kcore(pairs: list[tuple[str, str]], ki: int, ku: int) -> list[bool]:
    alive = [True] * len(pairs)
    changed = True
    while changed:
        changed = False
        items = Counter(p[1] for p, a in zip(pairs, alive, strict=True) if a)
        users = Counter(p[0] for p, a in zip(pairs, alive, strict=True) if a)
        for i, (u, it) in enumerate(pairs):
            if alive[i] and (items[it] < ki or users[u] < ku):
                alive[i] = False
                changed = True
    return alive


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kcore_matches_a_plain_reference(seed: int) -> None:
    rng = random.Random(seed)
    pairs = [
        (f"u{int(rng.paretovariate(1.2)) % 60}", f"i{int(rng.paretovariate(1.0)) % 40}")
        for _ in range(1500)
    ]
    df = pl.DataFrame({"user_id": [p[0] for p in pairs], "item_id": [p[1] for p in pairs]})
    got = kcore(df, 3, 8)
    assert got.to_list() == reference_kcore(pairs, 3, 8)
    assert 0 < got.sum() < len(pairs)
    kept = df.filter(got)
    assert (kept.group_by("item_id").len()["len"] >= 3).all()
    assert (kept.group_by("user_id").len()["len"] >= 8).all()


def test_kcore_integer_ids_and_empty() -> None:
    ints = pl.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [7, 8, 7, 8]})
    assert kcore(ints, 2, 2).to_list() == [True] * 4
    empty = pl.DataFrame(schema={"user_id": pl.String, "item_id": pl.String})
    assert kcore(empty, 3, 8).len() == 0


def records_for(rows: list[tuple[str, str, str]]) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "record_id": [f"{u}-{i}-{n}" for n, (u, i, _) in enumerate(rows)],
            "user_id": [u for u, _, _ in rows],
            "text": [t for _, _, t in rows],
            "meta": [
                json.dumps({"parent_asin": i, "item_title": '"parent_asin": "ZZ"'})
                for _, i, _ in rows
            ],
        }
    )


def test_flag_names_each_rule() -> None:
    long, short = TEXT, "Too short."
    rows = [
        ("u1", "p", long),
        ("u1", "q", long),
        ("u2", "p", long),
        ("u2", "q", long),
        ("u1", "r", short),
        ("u3", "p", long),
    ]
    cfg = FilterConfig.model_validate({"amazon": {"min_item_records": 2, "min_user_records": 2}})
    out = flag(records_for(rows), cfg, None).collect()
    assert out["reason"].to_list() == [
        None,
        None,
        None,
        None,
        "amazon.min_chars",
        "amazon.kcore_user",
    ]
    assert out["detail"].to_list()[5] == "k-core round 1"
    # an item kept alive only by a too-short review goes by the item rule
    rows2 = [*rows, ("u3", "s", long), ("u4", "s", short)]
    out2 = flag(records_for(rows2), cfg, None).collect()
    assert out2["reason"].to_list()[5:] == [
        "amazon.kcore_user",
        "amazon.kcore_item",
        "amazon.min_chars",
    ]


def test_flag_counts_duplicate_records_once() -> None:
    rows = [("u1", "p", TEXT), ("u1", "q", TEXT), ("u2", "p", TEXT), ("u2", "q", TEXT)]
    lf = records_for(rows)
    dup = pl.concat([lf, lf.head(1)])  # u1-p repeated: without it u1/p would still be a 2-core
    cfg = FilterConfig.model_validate({"amazon": {"min_item_records": 3, "min_user_records": 1}})
    # counted once, p has 2 rows and goes; the copy itself is left to the stage's duplicate rule
    assert flag(dup, cfg, None).collect()["reason"].to_list() == ["amazon.kcore_item"] * 4 + [None]


# --- the sample corpus end to end ---------------------------------------------------------------
def test_sample_ingest_filter(tmp_path: Path) -> None:
    cfg = validate_config(
        {
            "sources": [
                {"kind": "blogger", "path": str(SAMPLE / "blogger")},
                {"kind": "amazon", "path": str(SAMPLE / "amazon")},
            ]
        }
    )
    assert run_stages(cfg, tmp_path / "run", ["ingest", "filter"]) == {
        "ingest": "ran",
        "filter": "ran",
    }
    rejects = pl.read_parquet(tmp_path / "run" / "rejects" / "*.parquet")
    reasons = set(zip(rejects["source"], rejects["reason"], strict=True))
    for pair in [
        ("blogger", "blogger.min_chars"),
        ("blogger", "blogger.no_first_person"),
        ("amazon", "amazon.min_chars"),
        ("amazon", "amazon.kcore_item"),
        ("amazon", "amazon.kcore_user"),
    ]:
        assert pair in reasons
    assert ("blogger", "4100104-1", "blogger.no_first_person") in set(
        rejects.select("source", "record_id", "reason").rows()
    )
    kept = pl.read_parquet(tmp_path / "run" / "filtered" / "*.parquet")
    per_user = kept.group_by("source", "user_id").len()
    assert (per_user["len"] >= 2).all()
    assert set(per_user.filter(pl.col("source") == "amazon")["len"]) == {8}
    assert per_user.filter(pl.col("source") == "blogger").height >= 4
    items = pl.read_parquet(tmp_path / "run" / "items" / "*.parquet")
    assert items.height > 0 and items["item_id"].is_unique().all()
    # the round-2 cascade: the spice jars lose a reviewer in round 1 and go in round 2
    jars = rejects.filter(pl.col("record_id").str.contains("B0SMPJAR12"))
    assert set(jars["detail"]) == {"k-core round 1", "k-core round 2"}
