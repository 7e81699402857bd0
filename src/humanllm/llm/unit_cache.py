"""Request caches of units run on a cluster: one SQLite file per unit attempt, merged back into
the run's ``llm-cache.sqlite`` by the driver.

SQLite cannot share a file between machines (WAL needs shared memory; POSIX locks on network
filesystems are unreliable), so on a cluster no cache file is ever written by two processes:

- a unit attempt writes only ``<run>/cache/<stage>--<unit>--<random>.sqlite`` (a name no other
  attempt uses, so a retry never meets a zombie of the killed attempt in the same file), with a
  rollback journal; it reads the run's file immutable (:func:`~humanllm.llm.cache.connect_read_only`)
  and starts from a copy of what earlier, killed attempts of the same unit had committed;
- the driver, while no unit runs (before a stage's units are sent, and after they are done),
  merges every attempt file into the run's file (the newest reply per key wins) and deletes them,
  so a re-run (on a cluster or on one machine) finds every earlier answer in the run's file.

Attempt files are read from a copy taken with their hot journal, if any, so a file left by a
killed process is read as of its last commit and never written by the reader.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

from humanllm.llm.cache import _COLUMNS, _CREATE, CACHE_FILE, RequestCache, _connect

UNIT_CACHE_DIR = "cache"


def unit_cache_dir(run_root: str | Path) -> Path:
    return Path(run_root) / UNIT_CACHE_DIR


def attempt_files(run_root: str | Path, stage: str | None = None, unit_id: str = "") -> list[Path]:
    """Attempt files in the run, of one stage (and unit) or all."""
    d = unit_cache_dir(run_root)
    if not d.is_dir():
        return []
    pattern = f"{stage}--{unit_id}--*.sqlite" if stage and unit_id else f"{stage or '*'}--*.sqlite"
    return sorted(d.glob(pattern))


def _upsert_sql(schema: str) -> str:
    cols = ", ".join(_COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "key")
    return (
        f"INSERT INTO main.replies ({cols}) SELECT {cols} FROM {schema}.replies WHERE true "
        f"ON CONFLICT(key) DO UPDATE SET {sets} WHERE excluded.created_at > replies.created_at"
    )


def import_replies(conn: sqlite3.Connection, src: Path) -> int:
    """Copy the committed replies of ``src`` into ``conn``'s database (newer rows win); ``src``
    is read from a snapshot, never opened in place. Returns the rows read (0 for a file that is
    gone or unreadable, e.g. torn by a process still writing it)."""
    with tempfile.TemporaryDirectory(prefix="humanllm-cache-") as tmp:
        copy = Path(tmp) / "snapshot.sqlite"
        try:
            shutil.copyfile(src, copy)
            journal = src.with_name(src.name + "-journal")
            if journal.is_file():  # a hot journal: rolled back on the copy when it is opened
                shutil.copyfile(journal, copy.with_name(copy.name + "-journal"))
            conn.execute("ATTACH DATABASE ? AS src", (str(copy),))
        except (OSError, sqlite3.DatabaseError):
            return 0
        try:
            # a copy torn by a writer still at work (a zombie attempt) fails the structure check
            (check,) = conn.execute("PRAGMA src.quick_check(1)").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(f"{src}: {check}")
            (n,) = conn.execute("SELECT count(*) FROM src.replies").fetchone()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_upsert_sql("src"))
            conn.execute("COMMIT")
        except sqlite3.DatabaseError:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            n = 0
        finally:
            conn.execute("DETACH DATABASE src")
    return int(n)


def open_attempt_cache(run_root: str | Path, stage: str, unit_id: str) -> RequestCache:
    """The cache of one attempt of a unit: a new file of its own (holding what earlier attempts of
    the unit committed), reading the run's cache for everything else."""
    earlier = attempt_files(run_root, stage, unit_id)
    path = unit_cache_dir(run_root) / f"{stage}--{unit_id}--{uuid.uuid4().hex[:12]}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    if earlier:
        conn = _connect(path, wal=False)
        try:
            conn.execute(_CREATE)
            for f in earlier:
                import_replies(conn, f)
        finally:
            conn.close()
    return RequestCache(path, wal=False, read_also=[Path(run_root) / CACHE_FILE])


def settle_unit_caches(
    run_root: str | Path, stage: str | None = None, *, checkpoint: bool = False
) -> int:
    """Merge the attempt files (of ``stage``, or all) into the run's cache and delete them; with
    ``checkpoint``, also fold a WAL tail left in the run's cache into it (cluster units read it
    immutable, without the WAL). Call it only while no process uses the run's cache. Returns the
    rows read."""
    files = attempt_files(run_root, stage)
    main = Path(run_root) / CACHE_FILE
    if not files and not (checkpoint and main.with_name(main.name + "-wal").exists()):
        return 0
    conn = sqlite3.connect(main, timeout=30.0, isolation_level=None)
    try:
        # exclusive: this process alone, so WAL keeps its index in memory, not in shared memory
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_CREATE)
        n = sum(import_replies(conn, f) for f in files)
    finally:
        conn.close()  # the last connection: the WAL is checkpointed into the file and removed
    for f in files:
        f.with_name(f.name + "-journal").unlink(missing_ok=True)
        f.unlink(missing_ok=True)
    return n
