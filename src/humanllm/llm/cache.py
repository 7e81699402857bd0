"""The request cache: one SQLite file per run folder (``llm-cache.sqlite``), one row per request.

A row is keyed by :func:`request_key`, the sha256 of everything that determines the reply: model
id, rendered messages, sampling parameters (seed included), JSON schema and prompt version. It
holds what came back, failures included (an invalid reply, a permanent error, retries exhausted),
so a re-run of a finished stage reproduces results *and* rejects without asking again.

Durability: the file is in WAL mode. All writes go through one writer thread and one connection,
committed in small groups, at most ``commit_interval_s`` (50 ms) after a reply arrives. A process
killed with SIGKILL loses at most the replies of that last interval, which are simply asked again;
committed rows and the file itself are never damaged (WAL with ``synchronous=NORMAL`` is durable against process crashes, not against power loss).
Several processes on one machine may share one file: SQLite serialises their writers
(``busy_timeout``). Across machines (a Ray cluster, a network filesystem) no file is written by
two processes: each unit writes its own file (``wal=False``: a rollback journal, no shared
memory) and reads the run's file through ``read_also`` (opened immutable: no locks, no writes);
:mod:`humanllm.llm.unit_cache` names those files and merges them back into the run's file.
"""

from __future__ import annotations

import hashlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from humanllm.llm.base import ChatRequest, Sampling

CACHE_FILE = "llm-cache.sqlite"

_COLUMNS = (  # in the order of CachedReply's fields
    "key", "status", "text", "parsed", "finish_reason", "prompt_tokens", "completion_tokens",
    "error", "reason", "attempts", "model", "stage", "item_id", "created_at",
)  # fmt: skip
_CREATE = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,          -- ok | invalid | permanent | transient
    reason TEXT,                   -- reject reason of a failure, e.g. llm.schema
    text TEXT,                     -- raw reply text (null when no reply came back)
    parsed TEXT,                   -- validated object as JSON (status ok)
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,   -- HTTP attempts spent on this request
    model TEXT, stage TEXT, item_id TEXT,
    created_at REAL NOT NULL
) WITHOUT ROWID
"""


class KeyBuilder:
    """Builds request keys for one (model, schema, prompt version); the static part is hashed once.

    key = sha256(json([sha256(json([model_id, json_schema, schema_name, prompt_version])),
                       messages, sampling]))    with sampling = temperature, top_p, max_tokens, seed
    """

    def __init__(
        self,
        model_id: str,
        json_schema: dict[str, Any] | None,
        schema_name: str,
        prompt_version: str,
    ) -> None:
        static = json.dumps(
            [model_id, json_schema, schema_name, prompt_version],
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )
        self._static = hashlib.sha256(static.encode("utf-8", "surrogatepass")).hexdigest()

    def key(self, messages: tuple[tuple[str, str], ...], sampling: Sampling) -> str:
        blob = json.dumps(
            [self._static, messages, sampling.key()],
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def request_key(model_id: str, request: ChatRequest, prompt_version: str) -> str:
    """The cache key of ``request``: model id, messages, sampling (seed included), schema and name,
    prompt version (see :class:`KeyBuilder`)."""
    builder = KeyBuilder(model_id, request.json_schema, request.schema_name, prompt_version)
    return builder.key(request.messages, request.sampling)


@dataclass(frozen=True)
class CachedReply:
    key: str
    status: str  # "ok" | "invalid" | "permanent" | "transient"
    text: str | None = None
    parsed: Any = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    reason: str | None = None
    attempts: int = 1
    model: str = ""
    stage: str = ""
    item_id: str = ""
    created_at: float = 0.0

    def row(self) -> tuple[Any, ...]:
        parsed = None if self.parsed is None else json.dumps(self.parsed, ensure_ascii=False)
        return (
            self.key, self.status, self.text, parsed, self.finish_reason, self.prompt_tokens,
            self.completion_tokens, self.error, self.reason, self.attempts, self.model,
            self.stage, self.item_id, self.created_at or time.time(),
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> CachedReply:
        key, status, text, parsed, *rest = row
        return cls(key, status, text, None if parsed is None else json.loads(parsed), *rest)


def _connect(path: Path, wal: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A file no process writes while this reads it (``immutable``: no locks, no journal, no
    shared memory, so safe on a network filesystem). A WAL file's uncheckpointed tail is not
    seen: close its writer first (closing checkpoints it)."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)


def _answers(path: str | Path) -> sqlite3.Connection | None:
    """A read-only connection to a cache file that holds a replies table, else None."""
    if not Path(path).is_file():
        return None
    conn = connect_read_only(Path(path))
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'replies'").fetchone()
    if found is None:  # e.g. only in a WAL tail, which an immutable reader does not see
        conn.close()
        return None
    return conn


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class RequestCache:
    """Thread- and asyncio-safe: ``put`` never blocks; reads use their own connection.

    ``wal=False``: a rollback journal instead of WAL (a file only this process writes, on a
    filesystem without shared memory). ``read_also``: further cache files, never written here,
    that ``get``/``get_many`` consult (in order) for keys this file lacks; files that do not
    exist are left out. ``replies()`` and ``len()`` count this file only."""

    def __init__(
        self,
        path: str | Path,
        *,
        commit_interval_s: float = 0.05,
        wal: bool = True,
        read_also: Sequence[str | Path] = (),
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.commit_interval_s = commit_interval_s
        self.wal = wal
        self._reader = _connect(self.path, wal)
        self._reader.execute(_CREATE)
        self._others = [c for c in map(_answers, read_also) if c is not None]
        self._read_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._urgent = threading.Event()
        self._closed = False
        self._writer = threading.Thread(
            target=self._write_loop, name="llm-cache-writer", daemon=True
        )
        self._writer.start()

    @classmethod
    def in_run(cls, run_root: str | Path, **kw: Any) -> RequestCache:
        """The cache of a run folder: ``<run>/llm-cache.sqlite``."""
        return cls(Path(run_root) / CACHE_FILE, **kw)

    # --- reads ---------------------------------------------------------------------------
    def get(self, key: str) -> CachedReply | None:
        with self._read_lock:
            for conn in (self._reader, *self._others):
                row = conn.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM replies WHERE key = ?", (key,)
                ).fetchone()
                if row is not None:
                    return CachedReply.from_row(row)
        return None

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedReply]:
        keys = list(keys)
        want = len(set(keys))
        out: dict[str, CachedReply] = {}
        for conn in (self._reader, *self._others):
            missing = [k for k in keys if k not in out] if out else keys
            for i in range(0, len(missing), 500):
                chunk = missing[i : i + 500]
                marks = ",".join("?" * len(chunk))
                with self._read_lock:
                    rows = conn.execute(
                        f"SELECT {', '.join(_COLUMNS)} FROM replies WHERE key IN ({marks})", chunk
                    ).fetchall()
                for row in rows:
                    reply = CachedReply.from_row(row)
                    out[reply.key] = reply
            if len(out) == want:
                break
        return out

    def replies(self) -> list[CachedReply]:
        """Every committed reply (for inspection and tests; a big cache is big)."""
        with self._read_lock:
            rows = self._reader.execute(f"SELECT {', '.join(_COLUMNS)} FROM replies").fetchall()
        return [CachedReply.from_row(row) for row in rows]

    def __len__(self) -> int:
        with self._read_lock:
            (n,) = self._reader.execute("SELECT count(*) FROM replies").fetchone()
        return int(n)

    # --- writes --------------------------------------------------------------------------
    def put(self, reply: CachedReply) -> None:
        """Queue one reply; it is committed within ``commit_interval_s`` (replaces an older row)."""
        self._check()
        self._queue.put(reply)

    def flush(self, timeout: float | None = None) -> None:
        """Block until every reply queued so far is committed."""
        self._check()
        marker = _Flush()
        self._queue.put(marker)
        self._urgent.set()
        if not marker.done.wait(timeout):
            raise TimeoutError(f"{self.path}: cache flush timed out")
        self._check()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._urgent.set()
        self._writer.join()
        with self._read_lock:
            self._reader.close()
            for conn in self._others:
                conn.close()
        if self._error is not None:
            raise RuntimeError(
                f"{self.path}: the cache writer failed: {self._error}"
            ) from self._error

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        if self._error is not None:
            raise RuntimeError(
                f"{self.path}: the cache writer failed: {self._error}"
            ) from self._error
        if self._closed:
            raise RuntimeError(f"{self.path}: the cache is closed")

    def _write_loop(self) -> None:
        # Wake once per interval, not once per reply: the writer sleeps while a batch gathers, so
        # a put() from the event loop is a plain append and the GIL is not handed back and forth.
        conn = _connect(self.path, self.wal)
        cols = ", ".join(_COLUMNS)
        sql = f"INSERT OR REPLACE INTO replies ({cols}) VALUES ({','.join('?' * len(_COLUMNS))})"
        stop = False
        while not stop:
            items = [self._queue.get()]
            if not isinstance(items[0], _Flush) and items[0] is not _STOP:
                self._urgent.wait(self.commit_interval_s)  # flush() and close() cut this short
            self._urgent.clear()
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [it.row() for it in items if isinstance(it, CachedReply)]
            stop = any(it is _STOP for it in items)
            if rows and self._error is None:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(sql, rows)
                    conn.execute("COMMIT")
                except BaseException as e:  # surfaced to the caller by the next put/flush/close
                    self._error = e
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            for it in items:
                if isinstance(it, _Flush):
                    it.done.set()
        conn.close()
