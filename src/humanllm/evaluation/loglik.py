"""Per-option log-likelihood scoring, cached: each option as the assistant's reply to the task
prompt, scored by a backend that implements :class:`~humanllm.llm.base.Scorer` (``transformers``,
which computes the shared prompt once and reuses its KV cache for every option).

The ``transformers`` backend batches the options after the shared prompt (one forward pass for
all of them, each row from a copy of the prompt's KV cache): on a 2-core CPU with the embedded
model (8 options of ~77 tokens after a 300-token prompt) that scores 2.7x as many items per
second as running each option's full sequence (``benchmarks/mc_scoring.py``).

The cache is one SQLite file per run folder (``loglik-cache.sqlite``, outside ``eval/`` so a
re-run of the stage keeps it), one row per (model id, question id, messages + options digest):
a re-run asks the model nothing it has already scored.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

CACHE_FILE = "loglik-cache.sqlite"

_CREATE = """
CREATE TABLE IF NOT EXISTS loglik (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    question TEXT NOT NULL,
    scores TEXT NOT NULL      -- JSON list: summed log-probability of each option
) WITHOUT ROWID
"""


def loglik_key(
    model_id: str, question_id: str, messages: Sequence[tuple[str, str]], options: Sequence[str]
) -> str:
    blob = json.dumps([model_id, question_id, list(messages), list(options)], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


class LoglikCache:
    """Scores by key; every ``put`` is committed at once (scoring is slow, writes are rare)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(_CREATE)
        self.hits = 0
        self.misses = 0

    @classmethod
    def in_run(cls, run_root: str | Path) -> LoglikCache:
        return cls(Path(run_root) / CACHE_FILE)

    def get(self, key: str) -> list[float] | None:
        row = self._conn.execute("SELECT scores FROM loglik WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return [float(x) for x in json.loads(row[0])]

    def put(self, key: str, model: str, question: str, scores: Sequence[float]) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO loglik (key, model, question, scores) VALUES (?, ?, ?, ?)",
            (key, model, question, json.dumps(list(scores))),
        )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LoglikCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def per_byte(scores: Sequence[float], options: Sequence[str]) -> list[float]:
    """Log-likelihood per UTF-8 byte of each option (lm-eval's ``acc_norm``): free-text options
    differ in length, and a raw sum favours the shortest."""
    return [s / max(1, len(o.encode("utf-8"))) for s, o in zip(scores, options, strict=True)]


def argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))
