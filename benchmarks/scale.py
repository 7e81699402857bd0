"""Scale benchmark: peak memory and wall of the pipeline's stages as the corpus grows.

Every measured run is its own child process (``python benchmarks/scale.py _child ...``), which
reports its own peak RSS (``getrusage``) and wall, so one run's memory never hides another's.

Scenarios (one function each in ``SCENARIOS``; add the next one there):

- ``kcore`` (``--kcore N``, implemented): Amazon ingest + filter (rule filters, k-core to the
  fixed point, per-user minimum) of N synthetic reviews. Layout: real Amazon Reviews 2023 JSONL
  when N <= ``--jsonl-max`` (the child runs ingest then filter), else ``records/`` shards written
  directly by the generator (the child runs filter only: at 20M reviews a Python JSONL ingest
  would dominate the run and it streams per batch anyway). It measures a small floor run (the
  interpreter and libraries), N/4 and N, and prints bytes per review above the floor, the slope
  between N/4 and N, and the projection to the paper's 571M Amazon reviews. Target: N = 20M
  with peak RSS <= 2.5 GB.
- ``stages`` (to do, issue 14): every stage ingest -> tasks at 1x, 4x and 16x a base size,
  against a zero-latency loopback OpenAI-compatible stub; targets peak RSS at 16x <= 1.3x the
  1x figure and wall at 16x <= 18x. Generators for Blogger XML and all-string Reddit parquet
  go next to :func:`amazon_jsonl`.

Usage::

    python benchmarks/scale.py --kcore 20000000 [--json]
    python benchmarks/scale.py --quick [--json]      # kcore at 200k reviews, JSONL layout
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

PAPER_AMAZON_REVIEWS = 571_000_000
KCORE_TARGET_REVIEWS, KCORE_TARGET_GB = 20_000_000, 2.5
FLOOR_REVIEWS = 20_000
SHARD_ROWS = 50_000  # the Amazon reader's default batch (one records/ shard)
_WORDS = [
    "i",
    "my",
    "we",
    "our",
    "bought",
    "this",
    "for",
    "kitchen",
    "daughter",
    "works",
    "great",
    "after",
    "week",
    "month",
    "broke",
    "returned",
    "love",
    "quality",
    "price",
    "cheap",
    "sturdy",
    "small",
    "large",
    "color",
    "fits",
    "perfectly",
    "recommend",
    "would",
    "again",
    "instructions",
    "easy",
    "hard",
    "battery",
    "charger",
    "cable",
    "sound",
    "screen",
    "comfortable",
    "material",
    "smell",
    "package",
    "arrived",
    "late",
    "early",
    "seller",
    "refund",
    "replacement",
]


# --- measuring a child process ------------------------------------------------------------------
@dataclass
class Measure:
    scenario: str
    size: int
    layout: str
    stage: str
    peak_rss_mb: float
    wall_s: float
    kept: int = 0
    rejected: int = 0


def _run_stage(config: Path, run: Path, stage: str) -> None:
    """Child: run one stage and print its peak RSS (``getrusage``; the launcher is kept small,
    since Linux carries the parent's high-water mark into the child) and wall as JSON."""
    from humanllm.config import load_config
    from humanllm.executor import run_stages, stage_dir
    from humanllm.runfolder import RunFolder

    start = time.perf_counter()
    run_stages(load_config(config), run, [stage], force=True)
    wall = time.perf_counter() - start
    info = RunFolder(run).success(stage_dir(stage)) or {}
    counts = info.get("counts", {}).get("amazon", {})
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rss_mb": rss_mb, "wall_s": wall, "counts": counts}))


def child(*args: str) -> str:
    """Run ``scale.py _child <args>`` as its own process; its last stdout line."""
    cmd = [sys.executable, __file__, "_child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed ({' '.join(cmd)}):\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _child_main(args: list[str]) -> None:
    verb, rest = args[0], args[1:]
    if verb == "run":
        _run_stage(Path(rest[0]), Path(rest[1]), rest[2])
    elif verb == "gen-jsonl":
        amazon_jsonl(Path(rest[0]), int(rest[1]))
    elif verb == "gen-records":
        amazon_records(Path(rest[1]) / "records", int(rest[2]))
        _mark_ingested(Path(rest[0]), Path(rest[1]))
    else:
        raise SystemExit(f"unknown child verb {verb!r}")


# --- synthetic Amazon reviews -------------------------------------------------------------------
def _reviews(rows: int, n: int, seed: int) -> pl.DataFrame:
    """``rows`` of a corpus of ``n`` reviews, as columns. Most reviewers write one or two reviews (as on Amazon, where the
    k-core keeps a small part): 80% of the reviews come from ~0.4n occasional users, 20% from
    ~n/200 regular ones (heavy-tailed); items (~n/25) are heavy-tailed too. Texts of 40-700
    characters (about 1 in 12 under the 100-character rule), millisecond timestamps."""
    rng = np.random.default_rng(seed)
    regular = rng.random(rows) < 0.2
    n_occasional, n_regular = max(1, int(n * 0.4)), max(1, n // 200)
    occasional = rng.integers(0, n_occasional, rows)
    heavy = n_occasional + (rng.pareto(1.5, rows) * n_regular / 4).astype(np.int64) % n_regular
    users = np.where(regular, heavy, occasional)
    n_items = max(1, n // 25)
    items = np.random.default_rng(0).permutation(n_items)[
        (rng.pareto(1.0, rows) * n_items / 50).astype(np.int64) % n_items
    ]
    pool = np.array(
        [
            " ".join(rng.choice(_WORDS, size=int(rng.integers(8, 120))).tolist())
            for _ in range(2048)
        ],
        dtype=object,
    )
    return pl.DataFrame(
        {
            "user": users,
            "item": items,
            "ts": 1_500_000_000_000 + rng.integers(0, 10**11, rows),
            "text": pl.Series(pool[rng.integers(0, len(pool), rows)], dtype=pl.String),
            "rating": rng.integers(1, 6, rows).astype(np.float64),
        }
    ).with_columns(
        ("A" + pl.col("user").cast(pl.String).str.zfill(27)).alias("user_id"),
        ("B0" + pl.col("item").cast(pl.String).str.zfill(8)).alias("parent_asin"),
    )


def amazon_jsonl(path: Path, n: int, seed: int = 0) -> None:
    """Reviews in the Amazon Reviews 2023 JSONL layout (one file)."""
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, n, 500_000):
            df = _reviews(min(500_000, n - start), n, seed + start)
            lines = df.select(
                pl.struct(
                    "rating",
                    pl.lit("Synthetic review").alias("title"),
                    "text",
                    pl.col("parent_asin").alias("asin"),
                    "parent_asin",
                    "user_id",
                    pl.col("ts").alias("timestamp"),
                    pl.lit(0).alias("helpful_vote"),
                    pl.lit(True).alias("verified_purchase"),
                )
                .struct.json_encode()
                .alias("line")
            )["line"]
            out.write("\n".join(lines.to_list()) + "\n")


def amazon_records(folder: Path, n: int, seed: int = 0) -> None:
    """Reviews as ``records/amazon-NNNNN.parquet`` shards, as the Amazon reader writes them."""
    from humanllm.records import RECORD_SCHEMA, conform

    folder.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, n, SHARD_ROWS)):
        df = _reviews(min(SHARD_ROWS, n - start), n, seed + start).select(
            pl.lit("amazon").alias("source"),
            pl.format("{}-{}-{}", "user_id", "parent_asin", "ts").alias("record_id"),
            "user_id",
            pl.from_epoch("ts", time_unit="ms").dt.replace_time_zone("UTC").alias("created_at"),
            "text",
            pl.lit("Synthetic review").alias("title"),
            pl.concat_str(
                pl.lit('{"parent_asin": "'),
                "parent_asin",
                pl.lit('", "asin": "'),
                "parent_asin",
                pl.lit('", "rating": '),
                "rating",
                pl.lit(', "item_title": null, "helpful_vote": 0, "verified_purchase": true, '),
                pl.lit('"n_images": 0, "category": "Synthetic"}'),
            ).alias("meta"),
        )
        conform(df, RECORD_SCHEMA).write_parquet(folder / f"amazon-{i + 1:05d}.parquet")


def _mark_ingested(config: Path, run: Path) -> None:
    """Record ``records/`` as the ingest of ``config`` wrote it, so ``filter`` runs on it."""
    from humanllm.config import load_config
    from humanllm.executor import STAGES, fingerprint
    from humanllm.runfolder import RunFolder

    cfg = load_config(config)
    RunFolder(run).mark_success("records", {"fingerprint": fingerprint(cfg, STAGES["ingest"])})


# --- scenarios ----------------------------------------------------------------------------------
def _kcore_run(root: Path, n: int, layout: str) -> list[Measure]:
    import yaml

    run, data = root / f"run-{n}", root / f"data-{n}"
    data.mkdir(parents=True)
    config = root / f"config-{n}.yaml"
    source = {"kind": "amazon", "path": str(data), "batch_size": SHARD_ROWS}
    config.write_text(yaml.safe_dump({"sources": [source]}))
    if layout == "jsonl":
        stages = ["ingest", "filter"]
        child("gen-jsonl", str(data / "Synthetic.jsonl"), str(n))
    else:
        stages = ["filter"]
        child("gen-records", str(config), str(run), str(n))
    rows = []
    for stage in stages:
        got = json.loads(child("run", str(config), str(run), stage))
        counts = got.get("counts", {})
        rows.append(
            Measure(
                "kcore",
                n,
                layout,
                stage,
                round(got["rss_mb"], 1),
                round(got["wall_s"], 2),
                int(counts.get("out", 0)),
                int(counts.get("rejected", 0)),
            )
        )
    return rows


def kcore(n: int, jsonl_max: int) -> tuple[list[Measure], dict[str, Any]]:
    """Floor, n/4 and n reviews; one layout for all three (JSONL up to ``jsonl_max``)."""
    layout = "jsonl" if n <= jsonl_max else "records"
    sizes = sorted({FLOOR_REVIEWS, max(FLOOR_REVIEWS + 1, n // 4), n})
    rows: list[Measure] = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="scale-kcore-") as tmp:
            got = _kcore_run(Path(tmp), size, layout)
        rows += got
        line = ", ".join(f"{m.stage} {m.peak_rss_mb:,.0f} MB {m.wall_s:.0f} s" for m in got)
        print(f"  measured {size:,} reviews: {line}", file=sys.stderr)
    filt = [r for r in rows if r.stage == "filter"]
    floor, mid, top = filt[0], filt[-2], filt[-1]
    mib = 2**20
    slope = (top.peak_rss_mb - mid.peak_rss_mb) * mib / max(1, top.size - mid.size)
    above = (top.peak_rss_mb - floor.peak_rss_mb) * mib / max(1, top.size - floor.size)
    projected = (top.peak_rss_mb * mib + slope * (PAPER_AMAZON_REVIEWS - top.size)) / 2**30
    summary = {
        "filter_floor_mb": floor.peak_rss_mb,
        "filter_bytes_per_review_above_floor": round(above, 1),
        "filter_slope_bytes_per_review": round(slope, 1),
        "filter_projected_gb_at_571M": round(projected, 1),
        "target": f"filter of {KCORE_TARGET_REVIEWS:,} reviews <= {KCORE_TARGET_GB} GB peak RSS",
        "target_met": (
            top.peak_rss_mb / 1024 <= KCORE_TARGET_GB if top.size >= KCORE_TARGET_REVIEWS else None
        ),
    }
    if layout == "records":
        summary["note"] = "records/ written by the generator: ingest not run (see the docstring)"
    return rows, summary


def stages_scale(n: int, jsonl_max: int) -> tuple[list[Measure], dict[str, Any]]:
    raise SystemExit("benchmarks/scale.py: the per-stage scale runs (issue 14) are not built yet")


SCENARIOS: dict[str, Callable[[int, int], tuple[list[Measure], dict[str, Any]]]] = {
    "kcore": kcore,
    "stages": stages_scale,
}


# --- output -------------------------------------------------------------------------------------
def table(rows: list[Measure], summary: dict[str, Any]) -> str:
    head = f"{'scenario':<8} {'reviews':>12} {'layout':<8} {'stage':<7} {'peak RSS MB':>12} {'wall s':>8} {'kept':>11} {'rejected':>11}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.scenario:<8} {r.size:>12,} {r.layout:<8} {r.stage:<7} {r.peak_rss_mb:>12,.0f} "
            f"{r.wall_s:>8.1f} {r.kept:>11,} {r.rejected:>11,}"
        )
    lines += [f"{k}: {v}" for k, v in summary.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_child"]:
        _child_main(argv[1:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--kcore", type=int, metavar="N", help="Amazon k-core + filter of N reviews")
    ap.add_argument("--stages", type=int, metavar="N", help="every stage at base size N (to do)")
    ap.add_argument("--quick", action="store_true", help="kcore at 200k reviews (< 1 minute)")
    ap.add_argument("--jsonl-max", type=int, default=500_000, help="largest N written as JSONL")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = ap.parse_args(argv)
    if args.stages:
        name, n = "stages", args.stages
    else:
        name, n = "kcore", args.kcore or (200_000 if args.quick else KCORE_TARGET_REVIEWS)
    rows, summary = SCENARIOS[name](n, args.jsonl_max)
    if args.json:
        print(json.dumps({"rows": [asdict(r) for r in rows], "summary": summary}, indent=2))
    else:
        print(table(rows, summary))


if __name__ == "__main__":
    main()
