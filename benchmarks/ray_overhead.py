"""Benchmark of the Ray executor's overhead (issue 15).

One per-record LLM stage (``clean``) of 64 units against a zero-latency loopback stub (its own
process, :mod:`benchmarks._stub_openai`), on the local executor (one process, units side by side)
and on the Ray executor on a two-node Ray cluster started on this machine
(``ray.cluster_utils.Cluster``, one CPU per node). On a 2-core machine this measures what Ray
adds (task dispatch, a process per unit attempt's session and cache file, the driver's merge of
the unit cache files), not a speed-up. Target: Ray's wall <= 1.15x the local one. Every run
starts from the same filtered/ in a fresh run folder (nothing cached), and the outputs of both
executors are compared row for row.

    python benchmarks/ray_overhead.py            # full: 64 units x 40 records, best of 3
    python benchmarks/ray_overhead.py --quick    # < 1 minute: 64 units x 5 records, 1 round
    python benchmarks/ray_overhead.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _stub_openai import StubProcess  # noqa: E402
from humanllm.config import RunConfig, validate_config  # noqa: E402
from humanllm.executor import run_stages  # noqa: E402

UNITS = 64
STAGE, OUTPUT = "clean", "cleaned"
WORDS = "morning walk sister letter garden marathon kitchen river train music".split()  # noqa: SIM905


def write_corpus(path: Path, records: int) -> None:
    rows = []
    for i in range(records):
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(30))
        text = f"Post {i}: I remember the {words} and how I felt that day."
        rows.append({"id": f"p{i}", "author": f"u{i}", "body": text, "ts": 1_600_000_000 + i})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def config(posts: Path, url: str, per_unit: int, **executor: Any) -> RunConfig:
    return validate_config(
        {
            "sources": [
                {
                    "kind": "jsonl",
                    "name": "forum",
                    "path": str(posts),
                    "fields": {
                        "record_id": "id",
                        "user_id": "author",
                        "text": "body",
                        "created_at": "ts",
                    },
                    "min_chars": 0,
                }
            ],
            "llm": {
                "backends": {
                    "embedded": {
                        "kind": "openai",
                        "base_url": url,
                        "model": "stub",
                        "timeout_s": 30,
                    }
                }
            },
            "filter": {"user_buckets": UNITS, "min_records_per_user": 1},  # clean: 64 units
            "executor": executor,
        }
    )


def rows(run: Path) -> list[dict[str, Any]]:
    df = pl.concat([pl.read_parquet(f) for f in sorted((run / OUTPUT).glob("*.parquet"))])
    return df.sort(df.columns).to_dicts()


def timed(cfg: RunConfig, base: Path, dest: Path) -> float:
    """The stage's wall in a fresh copy of the filtered run folder (nothing cached)."""
    shutil.copytree(base, dest)
    t0 = time.perf_counter()
    run_stages(cfg, dest, [STAGE], console=Console(file=io.StringIO()))
    wall = time.perf_counter() - t0
    units = len(list((dest / OUTPUT / "_units").glob("*.json")))
    assert units == UNITS, f"{dest}: {units} units, expected {UNITS}"
    return wall


def measure(per_unit: int, rounds: int) -> dict[str, Any]:
    import ray
    from ray.cluster_utils import Cluster

    with tempfile.TemporaryDirectory(prefix="ray-overhead-") as tmp_s, StubProcess() as stub:
        tmp = Path(tmp_s)
        posts = tmp / "posts.jsonl"
        write_corpus(posts, UNITS * per_unit)
        local = config(posts, stub.url, per_unit)
        base = tmp / "base"
        run_stages(local, base, ["ingest", "filter"], console=Console(file=io.StringIO()))
        local_walls = [timed(local, base, tmp / f"local-{i}") for i in range(rounds)]

        mb = 2**20
        cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 100 * mb}
        )
        cluster.add_node(num_cpus=1, object_store_memory=100 * mb)
        try:
            ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
            cluster.wait_for_nodes()
            on_ray = config(posts, stub.url, per_unit, kind="ray", address=cluster.address)
            cold = timed(on_ray, base, tmp / "ray-cold")  # the cluster's workers start here
            ray_walls = [timed(on_ray, base, tmp / f"ray-{i}") for i in range(rounds)]
            nodes = len([n for n in ray.nodes() if n["Alive"]])
        finally:
            ray.shutdown()
            cluster.shutdown()
        same = rows(tmp / "ray-0") == rows(tmp / "local-0") == rows(tmp / "ray-cold")
    best_local, best_ray = min(local_walls), min(ray_walls)
    return {
        "units": UNITS,
        "records": UNITS * per_unit,
        "nodes": nodes,
        "rounds": rounds,
        "local_s": round(best_local, 3),
        "ray_first_s": round(cold, 3),
        "ray_s": round(best_ray, 3),
        "ray_vs_local": round(best_ray / best_local, 3),
        "ray_first_vs_local": round(cold / best_local, 3),
        "local_walls_s": [round(w, 3) for w in local_walls],
        "ray_walls_s": [round(w, 3) for w in ray_walls],
        "same_outputs": same,
    }


def main() -> None:
    p = argparse.ArgumentParser(description="Benchmark the Ray executor against the local one.")
    p.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args()
    per_unit, rounds = (5, 1) if a.quick else (40, 3)
    result: dict[str, Any] = {"quick": a.quick, **measure(per_unit, rounds)}
    result["targets_met"] = {
        "ray <= 1.15x local": result["ray_vs_local"] <= 1.15,
        "same outputs": result["same_outputs"],
    }
    if a.json:
        print(json.dumps(result))
        return
    table = Table(
        title=f"Ray executor overhead ({'quick' if a.quick else 'full'}: stage {STAGE}, "
        f"{result['units']} units, {result['records']} records, zero-latency stub, "
        f"{result['nodes']}-node local cluster; best of {rounds})"
    )
    for col in ("executor", "wall", "vs local", "target"):
        table.add_column(col, justify="right")
    table.add_row("local (1 process)", f"{result['local_s']:.2f} s", "1.00x", "")
    table.add_row(
        "ray, first run",
        f"{result['ray_first_s']:.2f} s",
        f"{result['ray_first_vs_local']:.2f}x",
        "",
    )
    table.add_row("ray", f"{result['ray_s']:.2f} s", f"{result['ray_vs_local']:.2f}x", "<= 1.15x")
    Console().print(table)
    Console().print(f"same outputs on both executors: {result['same_outputs']}")


if __name__ == "__main__":
    main()
