"""The Ray executor (``executor: {kind: ray}``) on a real two-node Ray cluster on this machine
(``ray.cluster_utils.Cluster``), and the per-unit cache files it relies on.

The model is a real OpenAI-compatible HTTP server on 127.0.0.1 (:mod:`tests.curation.http_model`):
Ray workers build their backend from the config, so nothing is patched into them. A worker is
killed mid-unit by the server itself: the process holding the other end of the request's
connection gets SIGKILL."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import psutil
import pytest
from rich.console import Console
from typer.testing import CliRunner

from humanllm.cli import app
from humanllm.config import RunConfig, dump_config, validate_config
from humanllm.executor import run_stages
from humanllm.llm.cache import CACHE_FILE, CachedReply, RequestCache
from humanllm.llm.unit_cache import (
    attempt_files,
    open_attempt_cache,
    settle_unit_caches,
    unit_cache_dir,
)
from humanllm.runfolder import RunFolder
from tests.curation.fake_model import jsonl_source
from tests.curation.http_model import ModelServer, _Handler, model_server

try:
    import ray
    from ray.cluster_utils import Cluster
except ImportError:  # the `ray` extra is not installed
    ray = None

needs_ray = pytest.mark.skipif(
    ray is None, reason="needs Ray (pip install -e '.[ray]'; scripts/setup.sh installs it)"
)

UPSTREAM = ["ingest", "filter"]
LLM_STAGES = ["clean", "label"]
OUTPUTS = ["cleaned", "labeled", "rejects"]
WORDS = [
    "morning",
    "walk",
    "sister",
    "letter",
    "garden",
    "marathon",
    "kitchen",
    "river",
    "train",
    "music",
]
TRIGGER = "KILLME"  # the first request with this word kills the worker that sent it


def config(tmp_path: Path, url: str, **executor: Any) -> RunConfig:
    posts = tmp_path / "posts.jsonl"
    if not posts.exists():
        rows = []
        for u in range(8):
            for i in range(3):
                words = " ".join(WORDS[(u + i + k) % len(WORDS)] for k in range(12))
                mark = {(5, 1): f" {TRIGGER}", (2, 0): " LOWQ"}.get((u, i), "")  # LOWQ: a reject
                text = f"I remember the {words} and how I felt that day with user {u}{mark}."
                ts = 1_600_000_000 + (u * 3 + i) * 86400
                rows.append({"id": f"p{u}-{i}", "author": f"u{u}", "body": text, "ts": ts})
        posts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return validate_config(
        {
            "sources": [{**jsonl_source(posts), "batch_size": 5}],
            "llm": {
                "backends": {
                    "embedded": {"kind": "openai", "base_url": url, "model": "t", "timeout_s": 10}
                },
                "runner": {"max_retries": 1, "backoff_base_s": 0.01, "backoff_max_s": 0.02},
            },
            "executor": executor,
        }
    )


def outputs(run: Path) -> dict[str, list[dict[str, Any]]]:
    """Every output folder's rows, order-free (shards concatenated, rows sorted)."""
    out = {}
    for folder in OUTPUTS:
        files = sorted((run / folder).glob("*.parquet"))
        assert files, f"{run}/{folder}: no shards"
        df = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
        out[folder] = df.sort(df.columns).to_dicts()
    return out


def counts(run: Path) -> dict[str, Any]:
    return {s: RunFolder(run).success(s)["counts"] for s in ("cleaned", "labeled")}  # type: ignore[index]


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with model_server() as s:
        yield s


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, server: ModelServer) -> Path:
    """The flow on the local executor (one process)."""
    tmp = tmp_path_factory.mktemp("reference")
    run_stages(config(tmp, server.url), tmp / "run", UPSTREAM + LLM_STAGES)
    assert len(list((tmp / "run" / "cleaned" / "_units").glob("*.json"))) >= 4
    return tmp / "run"


# --- per-unit cache files (no Ray needed) -----------------------------------------------------
def reply(key: str, text: str, at: float) -> CachedReply:
    return CachedReply(key, "ok", text=text, parsed={"text": text}, created_at=at)


def test_an_attempt_reads_the_run_cache_and_earlier_attempts_then_settles_into_it(
    tmp_path: Path,
) -> None:
    with RequestCache.in_run(tmp_path) as main:
        main.put(reply("a", "run cache", 1.0))
        main.put(reply("b", "old answer", 1.0))
    first = open_attempt_cache(tmp_path, "label", "shard-1")
    first.put(reply("b", "new answer", 2.0))
    first.put(reply("c", "first attempt", 2.0))
    first.close()  # e.g. its worker died after committing these
    retry = open_attempt_cache(tmp_path, "label", "shard-1")
    assert retry.path != first.path  # never the file an earlier (maybe zombie) attempt writes
    got = retry.get_many(["a", "b", "c", "d"])
    assert {k: r.text for k, r in got.items()} == {
        "a": "run cache",
        "b": "new answer",
        "c": "first attempt",
    }
    assert retry.get("a") is not None and retry.get("d") is None
    retry.put(reply("d", "retry", 3.0))
    retry.close()
    other = open_attempt_cache(tmp_path, "label", "shard-2")  # another unit: only the run cache
    assert other.get("c") is None and other.get("a") is not None
    other.close()

    assert settle_unit_caches(tmp_path) > 0
    assert attempt_files(tmp_path) == [] and list(unit_cache_dir(tmp_path).iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", CACHE_FILE]  # WAL folded in
    with RequestCache.in_run(tmp_path) as main:
        assert {r.key: r.text for r in main.replies()} == {
            "a": "run cache",
            "b": "new answer",  # the newer reply wins
            "c": "first attempt",
            "d": "retry",
        }


KILLED_WRITER = """
import os, sys
from humanllm.llm.cache import CachedReply, RequestCache
from humanllm.llm.unit_cache import open_attempt_cache
root, key = sys.argv[1:3]
main = RequestCache.in_run(root)
main.put(CachedReply(key, "ok", text="in the WAL", created_at=1.0))
main.flush()
if key == "w":
    attempt = open_attempt_cache(root, "clean", "u1")
    attempt.put(CachedReply("k", "ok", text="killed attempt", created_at=1.0))
    attempt.flush()
os._exit(0)  # killed: nothing closed, nothing checkpointed
"""


def test_answers_of_a_killed_process_reach_the_next_attempt_and_the_run_cache(
    tmp_path: Path,
) -> None:
    def killed_writer(key: str) -> None:
        argv = [sys.executable, "-c", KILLED_WRITER, str(tmp_path), key]
        subprocess.run(argv, check=True, timeout=60)

    killed_writer("w")
    assert (tmp_path / f"{CACHE_FILE}-wal").is_file()
    retry = open_attempt_cache(tmp_path, "clean", "u1")
    assert retry.get("k") is not None  # what the killed attempt of the unit had committed
    assert retry.get("w") is None  # the run's cache is read immutable: its WAL tail is unseen
    retry.close()
    settle_unit_caches(tmp_path, checkpoint=True)  # what the driver does before sending units
    assert not (tmp_path / f"{CACHE_FILE}-wal").exists() and attempt_files(tmp_path) == []
    later = open_attempt_cache(tmp_path, "clean", "u2")
    assert later.get("w") is not None and later.get("k") is not None
    later.close()
    settle_unit_caches(tmp_path)  # (later's own file)

    killed_writer("w2")  # a WAL tail and no unit file: only a checkpoint brings it in
    settle_unit_caches(tmp_path)
    assert (tmp_path / f"{CACHE_FILE}-wal").is_file()
    settle_unit_caches(tmp_path, checkpoint=True)
    last = open_attempt_cache(tmp_path, "clean", "u3")
    assert last.get("w2") is not None
    last.close()


def test_a_local_rerun_finds_answers_left_in_unit_cache_files(
    tmp_path: Path, server: ModelServer, reference: Path
) -> None:
    """A cluster run killed before its driver merged the unit files: the next run (here on one
    machine) asks the model nothing."""
    cfg = config(tmp_path, server.url)
    run = tmp_path / "run"
    run_stages(cfg, run, UPSTREAM + LLM_STAGES)
    cache_dir = unit_cache_dir(run)
    cache_dir.mkdir()
    (run / CACHE_FILE).rename(cache_dir / "clean--0--0123456789ab.sqlite")
    before = server.chat_requests
    run_stages(cfg, run, LLM_STAGES, force=True)
    assert server.chat_requests == before
    assert outputs(run) == outputs(reference)


def test_an_unknown_executor_is_a_clear_error(tmp_path: Path) -> None:
    yaml_path = tmp_path / "c.yaml"
    yaml_path.write_text(dump_config(config(tmp_path, "http://127.0.0.1:9/v1")))
    argv = ["clean", str(yaml_path), "-r", str(tmp_path / "run"), "--executor", "slurm"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert "executor.kind" in result.output and "'local' or 'ray'" in result.output


# --- on a two-node cluster ----------------------------------------------------------------------
class KillingServer(ModelServer):
    def __init__(self) -> None:
        super().__init__()
        self.RequestHandlerClass = _KillingHandler
        self.kills = 0

    def handle_error(self, request: Any, client_address: Any) -> None:  # a killed peer: quiet
        pass


class _KillingHandler(_Handler):
    server: KillingServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        text = " ".join(m["content"] for m in body.get("messages", []))
        with self.server.lock:
            kill = TRIGGER in text and self.server.kills == 0
            if kill:
                self.server.kills += 1
        if kill:
            os.kill(_peer_pid(self.client_address[1]), signal.SIGKILL)
            self.close_connection = True  # no reply: the asker is gone
            return
        self._send(*self.server.answer(body))


def _peer_pid(port: int) -> int:
    """The process (one of this test's descendants: a Ray worker) that owns the client socket."""
    for proc in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr and c.laddr.port == port for c in proc.net_connections("tcp")):
                return proc.pid
        except psutil.Error:
            continue
    raise AssertionError(f"no process of this test holds the client port {port}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    if ray is None:
        pytest.skip("needs Ray")
    mb = 2**20
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 100 * mb},
    )
    c.add_node(num_cpus=1, object_store_memory=100 * mb)
    ray.init(address=c.address, logging_level="WARNING")
    c.wait_for_nodes()
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def run_on_cluster(cfg: RunConfig, run: Path, stages: list[str], **kw: Any) -> str:
    out = io.StringIO()
    run_stages(cfg, run, stages, console=Console(file=out, width=200), **kw)
    return out.getvalue()


@needs_ray
def test_a_two_node_cluster_writes_what_one_process_writes_and_a_rerun_asks_nothing(
    tmp_path: Path, server: ModelServer, reference: Path, cluster: Any
) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    cfg = config(tmp_path, server.url, kind="ray", address=cluster.address, num_cpus=0.5)
    run = tmp_path / "run"
    run_stages(cfg, run, UPSTREAM)
    log = run_on_cluster(cfg, run, LLM_STAGES)
    assert len(set(re.findall(r"on node (\w+)", log))) == 2, log  # units ran on both nodes
    assert outputs(run) == outputs(reference)
    assert counts(run) == counts(reference)
    assert attempt_files(run) == []  # merged into the run's cache by the driver

    # the re-run, from the command line: a config without `kind`, and --executor ray
    yaml_path = tmp_path / "cluster.yaml"
    yaml_path.write_text(dump_config(config(tmp_path, server.url, address=cluster.address)))
    assert "kind: local" in yaml_path.read_text()
    before = server.chat_requests
    argv = ["run", str(yaml_path), "-r", str(run), "--stages", "clean,label", "--force"]
    result = CliRunner().invoke(app, [*argv, "--executor", "ray"])
    assert result.exit_code == 0, result.output
    assert "on node" in result.output  # the units ran as Ray tasks
    assert server.chat_requests == before  # every answer came from the cache
    assert outputs(run) == outputs(reference)


@needs_ray
def test_a_worker_killed_mid_unit_is_retried_without_a_duplicate_row(
    tmp_path: Path, reference: Path, cluster: Any
) -> None:
    server = KillingServer()
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = config(tmp_path, server.url, kind="ray", address=cluster.address)
        run = tmp_path / "run"
        run_stages(cfg, run, UPSTREAM)
        run_on_cluster(cfg, run, LLM_STAGES)
    finally:
        server.shutdown()
        server.server_close()
    assert server.kills == 1
    got = outputs(run)
    assert got == outputs(reference)
    for folder in ("cleaned", "labeled"):
        ids = [r["record_id"] for r in got[folder]]
        assert len(ids) == len(set(ids)), folder
        assert not [p.name for p in (run / folder).iterdir() if p.name.startswith(".")]
    assert counts(run) == counts(reference)
