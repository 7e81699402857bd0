"""The SQLite request cache: keys, round trips, concurrent writers, prompt commits, crash safety."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from humanllm.llm.base import ChatRequest, Sampling
from humanllm.llm.cache import (
    _COLUMNS,
    CACHE_FILE,
    CachedReply,
    KeyBuilder,
    RequestCache,
    request_key,
)

MSGS = (("system", "s"), ("user", "u"))


def reply(key: str, **kw: object) -> CachedReply:
    base: dict[str, object] = {"status": "ok", "text": '{"a": 1}', "parsed": {"a": 1}}
    return CachedReply(key=key, **(base | kw))  # type: ignore[arg-type]


def test_request_key_covers_every_component() -> None:
    req = ChatRequest(MSGS, Sampling(0.7, 1.0, 100, 1), {"type": "object"}, "Out")
    base = request_key("m", req, "p@1")
    assert (
        base
        == request_key("m", req, "p@1")
        == KeyBuilder("m", {"type": "object"}, "Out", "p@1").key(MSGS, req.sampling)
    )
    variants = [
        request_key("m2", req, "p@1"),
        request_key("m", req, "p@2"),
        request_key(
            "m",
            ChatRequest((("system", "s"), ("user", "v")), req.sampling, req.json_schema, "Out"),
            "p@1",
        ),
        request_key(
            "m",
            ChatRequest((("user", "s"), ("user", "u")), req.sampling, req.json_schema, "Out"),
            "p@1",
        ),
        request_key(
            "m", ChatRequest(MSGS, Sampling(0.8, 1.0, 100, 1), req.json_schema, "Out"), "p@1"
        ),
        request_key(
            "m", ChatRequest(MSGS, Sampling(0.7, 0.9, 100, 1), req.json_schema, "Out"), "p@1"
        ),
        request_key(
            "m", ChatRequest(MSGS, Sampling(0.7, 1.0, 101, 1), req.json_schema, "Out"), "p@1"
        ),
        request_key(
            "m", ChatRequest(MSGS, Sampling(0.7, 1.0, 100, 2), req.json_schema, "Out"), "p@1"
        ),
        request_key("m", ChatRequest(MSGS, req.sampling, {"type": "array"}, "Out"), "p@1"),
        request_key("m", ChatRequest(MSGS, req.sampling, req.json_schema, "Other"), "p@1"),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_columns_follow_the_reply_fields() -> None:
    assert tuple(f.name for f in dataclasses.fields(CachedReply)) == _COLUMNS


def test_round_trip_get_many_replace_and_len(tmp_path: Path) -> None:
    with RequestCache.in_run(tmp_path) as cache:
        assert cache.path == tmp_path / CACHE_FILE
        cache.put(
            reply("k1", prompt_tokens=3, completion_tokens=4, finish_reason="stop", attempts=2)
        )
        cache.put(
            reply(
                "k2",
                status="invalid",
                text="nope",
                parsed=None,
                reason="llm.invalid_json",
                error="bad",
            )
        )
        cache.flush()
        got = cache.get("k1")
        assert (
            got is not None and got.parsed == {"a": 1} and got.attempts == 2 and got.created_at > 0
        )
        assert (got.prompt_tokens, got.completion_tokens, got.finish_reason) == (3, 4, "stop")
        assert cache.get("missing") is None
        many = cache.get_many(["k1", "k2", "k3"])
        assert set(many) == {"k1", "k2"} and many["k2"].reason == "llm.invalid_json"
        cache.put(reply("k2", text='{"a": 2}', parsed={"a": 2}))  # retry_rejects overwrites
        cache.flush()
        assert cache.get("k2").parsed == {"a": 2}  # type: ignore[union-attr]
        assert len(cache) == 2
    with RequestCache.in_run(tmp_path) as again:  # persisted
        assert len(again) == 2
        mode = again._reader.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_get_many_with_more_keys_than_one_query(tmp_path: Path) -> None:
    with RequestCache(tmp_path / "c.sqlite") as cache:
        for i in range(1200):
            cache.put(reply(f"k{i}"))
        cache.flush()
        assert len(cache.get_many(f"k{i}" for i in range(0, 2400, 2))) == 600


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    with RequestCache(tmp_path / "c.sqlite") as cache:

        def write(t: int) -> None:
            for i in range(300):
                cache.put(reply(f"t{t}-{i}"))

        threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        cache.flush()
        assert len(cache) == 2400


def test_commits_promptly_without_flush(tmp_path: Path) -> None:
    with RequestCache(tmp_path / "c.sqlite", commit_interval_s=0.05) as cache:
        cache.put(reply("early"))
        other = sqlite3.connect(tmp_path / "c.sqlite")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if other.execute("SELECT count(*) FROM replies WHERE key='early'").fetchone()[0]:
                break
            time.sleep(0.01)
        else:
            pytest.fail("a reply was not committed within 5 s")
        other.close()


def test_closed_cache_refuses_writes(tmp_path: Path) -> None:
    cache = RequestCache(tmp_path / "c.sqlite")
    cache.close()
    cache.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        cache.put(reply("x"))


_WRITER = textwrap.dedent(
    """
    import sys, time
    from humanllm.llm.cache import CachedReply, RequestCache
    cache = RequestCache(sys.argv[1], commit_interval_s=0.01)
    for i in range(500):
        cache.put(CachedReply(key=f"flushed{i}", status="ok", text="x" * 200))
    cache.flush()
    print("FLUSHED", flush=True)
    i = 0
    while True:  # keep the writer busy until killed
        cache.put(CachedReply(key=f"later{i}", status="ok", text="y" * 200))
        i += 1
        if i % 100 == 0:
            time.sleep(0.001)
    """
)


def test_sigkill_keeps_committed_rows_and_a_sound_file(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "FLUSHED"
    time.sleep(0.3)  # mid-write of the "later" rows
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert (
        conn.execute("SELECT count(*) FROM replies WHERE key LIKE 'flushed%'").fetchone()[0] == 500
    )
    assert conn.execute("SELECT count(*) FROM replies WHERE key LIKE 'later%'").fetchone()[0] > 0
    conn.close()
    with RequestCache(db) as cache:  # reopens and keeps working
        cache.put(reply("after"))
        cache.flush()
        assert cache.get("after") is not None
