"""The quick start's curation on the real embedded model yields every table and every task, with
two different llama.cpp thread counts per model instance (which change how llama.cpp splits its
work). A weak model decodes differently on other CPUs; what the quick start promises must not
hang on one lucky decoding. Slow (two curation runs, ~5 minutes each on 2 cores): CI runs it apart
from the default test run (``.ci/run``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from humanllm.config import load_config
from humanllm.executor import run_stages
from humanllm.tasks import TASKS

# Each curation run takes 5-15 minutes on 2 cores, more when they are shared: past the suite's
# 600 s default time-out.
pytestmark = [pytest.mark.slow, pytest.mark.llamacpp, pytest.mark.timeout(3000)]
QUICKSTART = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
STAGES = [
    "ingest", "filter", "clean", "label", "users", "scenarios", "social_qa", "qc", "genome", "tasks",
]  # fmt: skip


@pytest.mark.parametrize(
    ("n_threads", "n_parallel"),
    [(2, 1), (2, 2)],  # 2 threads in one instance; 1 thread in each of two instances
    ids=["2-threads-per-instance", "1-thread-per-instance"],
)
def test_quickstart_curation_yields_users_scenarios_qa_and_every_task(
    n_threads: int, n_parallel: int, tmp_path: Path
) -> None:
    pytest.importorskip("llama_cpp")
    cfg = load_config(
        QUICKSTART,
        [
            f"llm.backends.embedded.n_threads={n_threads}",
            f"llm.backends.embedded.n_parallel={n_parallel}",
        ],
    )
    run = tmp_path / "run"
    run_stages(cfg, run, STAGES)
    genome = run / "genome"
    for table in ("users", "scenarios", "social_qa"):
        n = pl.read_parquet(genome / f"{table}.parquet").height
        assert n > 0, f"genome/{table}.parquet is empty with {n_threads}/{n_parallel} threads"
    for task in TASKS:
        train = run / "tasks" / task / "train.jsonl"
        assert train.is_file() and train.stat().st_size > 0, f"task {task} has no training rows"
