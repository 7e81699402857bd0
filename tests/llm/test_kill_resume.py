"""A stage killed with SIGKILL mid-run resumes to the same output, never re-sending a request
whose answer had been committed to the cache before the kill."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from humanllm.llm.backends import make_backend
from humanllm.llm.cache import CACHE_FILE, RequestCache
from humanllm.llm.outputs import write_outcome
from humanllm.llm.runner import RunOutcome, run_llm
from humanllm.runfolder import RunFolder

from .runner_common import (
    SAMPLING,
    STAGE,
    TEMPLATE,
    Echo,
    cache_and_stub_keys,
    fast_runner,
    make_items,
    openai_cfg,
    render_item,
)
from .stub_server import StubProcess

N = 400
CONCURRENCY = 8
WORKER = Path(__file__).with_name("kill_worker.py")


def committed_rows(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM replies").fetchone()[0])
    except sqlite3.OperationalError:  # the worker has not created the table yet
        return 0
    finally:
        conn.close()


def run_stage(url: str, run_dir: Path, concurrency: int = 32) -> RunOutcome[Echo]:
    with RequestCache.in_run(run_dir) as cache:
        out = run_llm(
            make_items(N),
            render=render_item,
            schema=Echo,
            backend=make_backend(openai_cfg(url)),
            cache=cache,
            stage=STAGE,
            prompt_version=TEMPLATE.id,
            sampling=SAMPLING,
            runner_cfg=fast_runner(max_concurrency=concurrency),
            progress=False,
        )
    write_outcome(RunFolder(run_dir), out, folder="echoed", stage=STAGE, shard="part-00000")
    return out


def test_sigkill_mid_stage_then_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    db = run_dir / CACHE_FILE
    with StubProcess(latency=0.05) as stub:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), stub.url, str(run_dir), str(N), str(CONCURRENCY)]
        )
        while committed_rows(db) < N // 4:  # a worker that hangs: the suite's time-out ends it
            assert proc.poll() is None, "the worker ended before it could be killed"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL

        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        committed = {k for (k,) in conn.execute("SELECT key FROM replies WHERE status = 'ok'")}
        assert conn.execute("SELECT count(*) FROM replies WHERE status != 'ok'").fetchone()[0] == 0
        conn.close()
        assert N // 4 <= len(committed) < N, "killed mid-stage"

        resumed = run_stage(stub.url, run_dir)
        sent = stub.stats()["by_request"]

        reference = run_stage(stub.url, tmp_path / "reference")

    # strict: every request committed before the kill was sent exactly once, ever
    keys = cache_and_stub_keys(make_items(N), "openai:stub-model")
    assert committed <= keys.keys()
    resent = {k for k in committed if sent.get(keys[k]) != 1}
    assert not resent, f"{len(resent)} committed requests were sent again"
    # the resumed run asked exactly the records without a committed answer, once each
    assert resumed.summary.requests == N - len(committed)
    assert resumed.summary.cache_hits == len(committed)

    assert not resumed.rejects and not reference.rejects
    assert resumed.results == reference.results and list(resumed.results) == list(reference.results)
    shard = "echoed/part-00000.parquet"
    assert pl.read_parquet(run_dir / shard).equals(pl.read_parquet(tmp_path / "reference" / shard))
