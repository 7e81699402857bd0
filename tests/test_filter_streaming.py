"""The streamed filter stage gives what filtering each source as one in-memory frame gives.

Generated records, several shards per source, users spanning shards, duplicated record ids
across shards (some copies dropped by a row rule, some kept), an Amazon k-core that needs
several rounds; the reference below holds every source in memory and applies the rules in one
frame, as the stage did before it streamed.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rich.console import Console

from humanllm.config import RunConfig, validate_config
from humanllm.executor import run_stages
from humanllm.filters import amazon, decide
from humanllm.filters import stage as filter_stage
from humanllm.filters.reddit import read_filtered
from humanllm.records import RECORD_SCHEMA, REJECT_SCHEMA, conform
from humanllm.runfolder import RunFolder
from humanllm.sources.config import RedditSource
from humanllm.sources.kind import SourceKind, kind_of
from humanllm.stage import StageContext, StageResult
from tests.test_reddit import post, write_parquet

WORDS = [
    "i",
    "my",
    "we",
    "went",
    "home",
    "today",
    "work",
    "friend",
    "really",
    "think",
    "because",
    "after",
    "night",
    "coffee",
    "the",
    "a",
]
T0 = datetime(2020, 1, 1, tzinfo=UTC)


# --- the in-memory reference ---------------------------------------------------------------------
def _common_rules(flagged: pl.DataFrame, min_records: int) -> pl.DataFrame:
    reason = pl.col("reason")
    flagged = flagged.with_columns(
        pl.when(reason.is_null() & ~pl.col("record_id").is_first_distinct())
        .then(pl.lit("all.duplicate_record_id"))
        .otherwise(reason)
        .alias("reason")
    )
    per_user = pl.col("reason").is_null().sum().over("user_id")
    return flagged.with_columns(
        pl.when(pl.col("reason").is_null() & (per_user < min_records))
        .then(pl.lit("all.min_records_per_user"))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )


def reference(root: Path, cfg: RunConfig) -> dict[str, pl.DataFrame]:
    """``{file name: frame}`` of ``filtered/`` and ``rejects/filter-*`` as the one-frame filter
    writes them."""
    run, fcfg, out = RunFolder(root), cfg.filter, {}
    for src in cfg.sources:
        name = src.source_name
        if isinstance(src, RedditSource) and fcfg.reddit.fused:
            parts = list(read_filtered(src, fcfg))
            kept = [k.with_columns(pl.lit(None, dtype=pl.String).alias("reason")) for k, _ in parts]
            dropped = [r.filter(~pl.col("reason").str.starts_with("parse.")) for _, r in parts]
            flagged = pl.concat([*kept, *dropped], how="diagonal_relaxed")
        else:
            lf = run.scan("records", f"{name}-")
            assert lf is not None
            kind = kind_of(src)  # the whole-frame rules: Amazon's k-core in memory too
            rules = amazon.flag if kind.item_kcore else kind.flag()
            flagged = rules(lf, fcfg, src).collect()
        df = _common_rules(flagged, fcfg.min_records_per_user)
        rejected = df.filter(pl.col("reason").is_not_null()).with_columns(
            pl.lit("filter").alias("stage"), pl.lit(name).alias("source")
        )
        if "detail" not in rejected.columns:
            rejected = rejected.with_columns(pl.lit("").alias("detail"))
        out[f"rejects/filter-{name}.parquet"] = conform(rejected, REJECT_SCHEMA)
        kept_all = df.filter(pl.col("reason").is_null()).select(list(RECORD_SCHEMA))
        bucket = (pl.col("user_id").hash(seed=0) % fcfg.user_buckets).alias("_b")
        for (b,), part in kept_all.with_columns(bucket).group_by("_b", maintain_order=True):
            shard = part.drop("_b").sort("user_id", "created_at")
            out[f"filtered/{name}-{int(b):05d}.parquet"] = shard  # type: ignore[call-overload]
    return out


def outputs(root: Path) -> dict[str, pl.DataFrame]:
    files = [*(root / "filtered").glob("*.parquet"), *(root / "rejects").glob("filter-*.parquet")]
    return {f"{p.parent.name}/{p.name}": pl.read_parquet(p) for p in files}


# --- generated corpus ----------------------------------------------------------------------------
def _text(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words)


def _record(source: str, rid: str, user: str, text: str, meta: dict[str, Any], n: int) -> dict:
    return {
        "source": source,
        "record_id": rid,
        "user_id": user,
        "created_at": T0 + timedelta(hours=n % 500),  # ties in (user, time) on purpose
        "text": text,
        "title": None,
        "meta": json.dumps(meta),
    }


def _spread(rows: list[dict], shards: int, rng: random.Random) -> list[pl.DataFrame]:
    """Rows dealt at random into ``shards`` frames (so users and duplicates span shards)."""
    parts: list[list[dict]] = [[] for _ in range(shards)]
    for row in rows:
        parts[rng.randrange(shards)].append(row)
    return [conform(pl.DataFrame(p, schema_overrides=RECORD_SCHEMA), RECORD_SCHEMA) for p in parts]


def _with_duplicates(rows: list[dict], rng: random.Random, short: str) -> list[dict]:
    """Some rows repeated: an exact copy, or a copy that a length rule drops."""
    extra = []
    for row in rng.sample(rows, len(rows) // 12):
        extra.append(dict(row))
        extra.append({**row, "text": short})
    return rows + extra


def amazon_rows(rng: random.Random, n: int = 1500) -> list[dict]:
    rows = []
    for k in range(n):
        user = f"u{int(rng.paretovariate(1.2)) % 60}"
        item = f"i{int(rng.paretovariate(1.0)) % 40}"
        text = _text(rng, 120) if rng.random() > 0.08 else "Too short."
        meta: dict[str, Any] = {"parent_asin": item, "rating": 5.0}
        if k % 301 == 0:
            meta = {"rating": 1.0}  # no item: amazon.no_item
        rows.append(_record("amazon", f"{user}-{item}-{k}", user, text, meta, k))
    pairs = [(u, i) for u in (f"C{c}" for c in range(10)) for i in (f"K{k}" for k in range(10))]
    # a cascade, one link a round: Z goes (1 review), so X1 (3 reviews) goes, so A1 (8) goes,
    # so X2 goes, ... -- A_k reviews 6 core items, X_k and X_k+1; X_k has A_k-1, A_k, C_k
    pairs += [("Z", "X1"), ("C1", "X1")]
    for a in range(1, 6):
        pairs += [(f"A{a}", f"K{k}") for k in range(6)]
        pairs += [(f"A{a}", f"X{a}"), (f"A{a}", f"X{a + 1}"), (f"C{a + 1}", f"X{a + 1}")]
    for k, (user, item) in enumerate(pairs):
        meta = {"parent_asin": item, "rating": 4.0}
        rows.append(_record("amazon", f"{user}-{item}-c{k}", user, _text(rng, 120), meta, k))
    return _with_duplicates(rows, rng, "short")


def twitter_rows(rng: random.Random, n: int = 260) -> list[dict]:
    rows = []
    for k in range(n):
        user = f"t{rng.randrange(40)}"
        brand = user == "t7"
        meta = {
            "verified": brand,
            "followers": 500_000 if brand else 10,
            "description": "Official company store since 1998" if brand else "just me",
        }
        roll = rng.random()
        text = _text(rng, 320)
        if roll < 0.1:
            text = "short tweet"
        elif roll < 0.2:
            text = "RT @someone " + text
        elif roll < 0.25:
            text = text + " shop now"
        rows.append(_record("twitter", str(10_000 + k), user, text, meta, k))
    return _with_duplicates(rows, rng, "short")


def blogger_rows(rng: random.Random, n: int = 240) -> list[dict]:
    rows = []
    for k in range(n):
        user = f"b{rng.randrange(30)}"
        text = _text(rng, 320 if rng.random() > 0.15 else 50)
        if rng.random() < 0.1:
            text = " ".join(["the weather report said rain"] * 15)  # no first person
        rows.append(_record("blogger", f"{user}-{k}", user, text, {"gender": "f"}, k))
    return _with_duplicates(rows, rng, "tiny")


def jsonl_rows(rng: random.Random, n: int = 120) -> list[dict]:
    rows = [
        _record("jsonl", f"j{k}", f"g{rng.randrange(25)}", _text(rng, rng.choice([40, 90])), {}, k)
        for k in range(n)
    ]
    return _with_duplicates(rows, rng, "x")


def reddit_files(folder: Path, rng: random.Random, files: int = 3, n: int = 90) -> Path:
    folder.mkdir(parents=True)
    authors = [f"person_{i}" for i in range(20)] + ["AutoModerator", "gif_bot"]
    rows = []
    for k in range(n):
        over: dict[str, str | None] = {
            "id": f"r{k:03d}",
            "author": rng.choice(authors),
            "selftext": _text(rng, rng.choice([100, 400, 400])),
            "score": str(rng.choice([0, 3, 10])),
            "created_utc": str(1_600_000_000 + k * 60),
        }
        rows.append(post(**over))
    rows += [dict(r) for r in rng.sample(rows, 8)]  # re-posted ids, in another file
    rng.shuffle(rows)
    for f in range(files):
        write_parquet(folder / f"part-{f}.parquet", rows[f::files])
    return folder


def corpus(root: Path, rng: random.Random, *, shards: int = 4) -> list[dict[str, Any]]:
    """Records shards of four generated sources written into ``root/records``; their configs."""
    run = RunFolder(root)
    sources: list[dict[str, Any]] = []
    for kind, rows in (
        ("amazon", amazon_rows(rng)),
        ("twitter", twitter_rows(rng)),
        ("blogger", blogger_rows(rng)),
        ("jsonl", jsonl_rows(rng)),
    ):
        for i, part in enumerate(_spread(rows, shards, rng)):
            run.write_shard("records", f"{kind}-{i:05d}", part)
        sources.append({"kind": kind, "path": str(root)})
    sources[-1]["min_chars"] = 60
    return sources


def run_filter(root: Path, cfg: RunConfig) -> StageResult:
    ctx = StageContext(cfg, RunFolder(root), "filter", Console(quiet=True))
    return filter_stage.run_filter(ctx)


def assert_same(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    assert sorted(got) == sorted(want)
    for name, frame in want.items():
        assert got[name].equals(frame), name


# --- tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2])
def test_streamed_filter_equals_the_in_memory_reference(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    sources = corpus(tmp_path, rng)
    cfg = validate_config({"sources": sources, "filter": {"partition_rows": 300}})
    want = reference(tmp_path, cfg)
    result = run_filter(tmp_path, cfg)
    got = outputs(tmp_path)
    assert_same(got, want)
    assert "collisions" not in result.extra
    # the data exercise what they are meant to
    amazon = want["rejects/filter-amazon.parquet"]
    rounds = amazon["detail"].str.extract(r"round (\d+)").cast(pl.Int64).max()
    assert isinstance(rounds, int) and rounds >= 3
    reasons = set(pl.concat([f for n, f in want.items() if n.startswith("rejects/")])["reason"])
    assert {"all.duplicate_record_id", "all.min_records_per_user", "amazon.no_item"} <= reasons
    assert {"amazon.kcore_item", "amazon.kcore_user", "twitter.retweet"} <= reasons
    kept = pl.concat([f for n, f in got.items() if n.startswith("filtered/")])
    assert kept["record_id"].is_unique().all()
    counts = result.counts
    assert sum(c.records_out for c in counts.values()) == kept.height
    assert counts["amazon"].records_in == sum(
        pl.read_parquet(p).height for p in RunFolder(tmp_path).shards("records", "amazon-")
    )
    assert not (tmp_path / "filtered" / ".work").exists()


def test_reddit_fused_and_staged_equal_the_reference(tmp_path: Path) -> None:
    raw = reddit_files(tmp_path / "raw", random.Random(5))
    for fused in (True, False):
        root = tmp_path / ("fused" if fused else "staged")
        cfg = validate_config(
            {
                "sources": [{"kind": "reddit", "path": str(raw), "batch_size": 16}],
                "filter": {"reddit": {"fused": fused}},
            }
        )
        run_stages(cfg, root, ["ingest"])
        assert len(RunFolder(root).shards("records")) >= 3
        want = reference(root, cfg)
        run_filter(root, cfg)
        assert_same(outputs(root), want)
        reasons = set(want["rejects/filter-reddit.parquet"]["reason"])
        assert {"all.duplicate_record_id", "reddit.min_score", "reddit.bot"} <= reasons


def test_hash_collisions_are_reported_and_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 6-bit id hashes nearly every id collides; the outputs stay exact."""
    sources = corpus(tmp_path, random.Random(3), shards=3)
    cfg = validate_config({"sources": sources})
    want = reference(tmp_path, cfg)
    monkeypatch.setattr(decide, "ID_BITS", 6)
    result = run_filter(tmp_path, cfg)
    assert_same(outputs(tmp_path), want)
    found = result.extra["collisions"]
    assert found["amazon"]["record_id"] > 0 and found["amazon"]["user_id"] > 0
    assert found["amazon"]["item_id"] > 0 and found["blogger"]["user_id"] > 0


def test_rules_see_one_shard_and_the_kcore_only_integer_pairs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = corpus(tmp_path, random.Random(4), shards=5)
    cfg = validate_config({"sources": sources})
    largest = max(pl.read_parquet(p).height for p in RunFolder(tmp_path).shards("records"))
    seen: list[int] = []
    real = filter_stage.rules_of

    def counting_rules(kind: SourceKind) -> Any:
        rules = real(kind)

        def spy(records: pl.LazyFrame, *args: Any) -> pl.LazyFrame:
            seen.append(records.select(pl.len()).collect().item())
            return rules(records, *args)

        return spy

    kcore_inputs: list[pl.Schema] = []
    real_kcore = decide.kcore_rounds

    def kcore_spy(pairs: pl.DataFrame, *args: int) -> pl.DataFrame:
        kcore_inputs.append(pairs.schema)
        return real_kcore(pairs, *args)

    monkeypatch.setattr(filter_stage, "rules_of", counting_rules)
    monkeypatch.setattr(decide, "kcore_rounds", kcore_spy)
    run_filter(tmp_path, cfg)
    # twitter, blogger, jsonl and amazon's row rules: per shard
    assert len(seen) == 4 * 5 and max(seen) <= largest
    (schema,) = kcore_inputs
    assert all(dtype.is_integer() for dtype in schema.dtypes())
    assert set(schema) == {"user_id", "item_id"}
