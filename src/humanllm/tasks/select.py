"""The candidates of one user bucket and the exact, bucket-independent selection among them.

A candidate is a row some builder made, placed in its cell ``(task, source, split)`` (the split
is its user's), with a selection hash ``key_hash(seed, "sample", split, task, source, user_id,
ref, occurrence)``: the row's identity, ``occurrence`` counting rows of one user with the same
``ref`` (so no two candidates of a cell share a key). Nothing in it depends on the bucket.

Pass 1 keeps the hashes of each cell (8 bytes per candidate); with the cell's quota ``k`` the
:class:`Cut` keeps the ``k`` smallest: every hash below the ``k``-th smallest value ``t``, and of
the candidates whose hash equals ``t`` (two different keys with the same 64-bit hash: a
collision), the ones with the smallest keys — found by one more pass over the buckets, run only
when a collision straddles a cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from humanllm.tasks.config import RAW_TASK, TasksConfig
from humanllm.tasks.inputs import Genome
from humanllm.tasks.registry import tasks
from humanllm.tasks.rows import BuildOptions, Row
from humanllm.tasks.sampling import UserSplit, key_hash
from humanllm.tasks.variants import long_enough, raw_completion_rows

Cell = tuple[str, str, str]  # (task, source, split)
Key = tuple[str, str, str, int]  # (source, user_id, ref, occurrence)
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Candidate:
    cell: Cell
    hash: int
    key: Key
    row: Row


@dataclass
class BucketStats:
    """What a bucket adds to the stage's report (JSON-ready, summed over buckets)."""

    available: dict[str, dict[str, int]] = field(default_factory=dict)  # task -> source -> rows
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)  # task -> reason -> inputs
    users: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> source -> users
    present: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> task -> rows

    def add(self, other: BucketStats) -> None:
        for mine, theirs in (
            (self.available, other.available),
            (self.skipped, other.skipped),
            (self.users, other.users),
            (self.present, other.present),
        ):
            for k, counts in theirs.items():
                into = mine.setdefault(k, {})
                for kk, n in counts.items():
                    into[kk] = into.get(kk, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "skipped": self.skipped,
            "users": self.users,
            "present": self.present,
        }


def _bump(d: dict[str, dict[str, int]], a: str, b: str, n: int = 1) -> None:
    d.setdefault(a, {})[b] = d.setdefault(a, {}).get(b, 0) + n


def _raw_rows(
    raw: pl.DataFrame, test_users: set[tuple[str, str]], cfg: TasksConfig, o: BuildOptions
) -> list[Row]:
    df = long_enough(raw, cfg.min_text_chars)
    if test_users:
        test = pl.DataFrame(sorted(test_users), schema=["source", "user_id"], orient="row")
        df = df.join(test, on=["source", "user_id"], how="anti")
    df = df.sort("source", "user_id", "record_id", nulls_last=True, maintain_order=True)
    return raw_completion_rows(df.to_dicts(), o, cfg.min_text_chars)


def bucket_candidates(
    genome: Genome,
    raw: pl.DataFrame | None,
    cfg: TasksConfig,
    o: BuildOptions,
    split: UserSplit,
) -> tuple[list[Candidate], BucketStats]:
    """Every candidate of one bucket (its users only), in the builders' order, and its report."""
    stats = BucketStats()
    users = genome.user_keys()
    test_users = {u for u in users if split.is_test(*u)}
    for user in users:
        _bump(stats.users, "test" if user in test_users else "train", user[0])
    train_tasks = cfg.train_tasks()
    tagged: list[tuple[str, str, Row]] = []  # (task, split, row)
    for t in tasks():
        task, built = t.name, t.build(genome, o)
        stats.skipped[task] = dict(built.skipped)
        stats.available[task] = dict(Counter(r["source"] for r in built.rows))
        for r in built.rows:
            where = "test" if (r["source"], r["user_id"]) in test_users else "train"
            _bump(stats.present, where, task)
            if where == "test" or (cfg.variant != "raw" and task in train_tasks):
                tagged.append((task, where, r))
    if cfg.variant == "raw" and raw is not None:
        tagged.extend((RAW_TASK, "train", r) for r in _raw_rows(raw, test_users, cfg, o))
    seen: Counter[tuple[str, str, str, str, str]] = Counter()
    out = []
    for task, where, r in tagged:
        ident = (task, where, r["source"], r["user_id"], str(r["ref"]))
        occurrence = seen[ident]
        seen[ident] += 1
        key: Key = (r["source"], r["user_id"], str(r["ref"]), occurrence)
        h = key_hash(o.seed, "sample", where, task, *key)
        out.append(Candidate((task, r["source"], where), h, key, r))
    return out, stats


@dataclass
class Cut:
    """Which candidates of a cell are kept: all, none, or the ``k`` smallest hashes."""

    mode: str = "all"  # all | none | below (hash <= threshold) | ties
    threshold: int = 0
    tie_keep: frozenset[Key] = frozenset()

    def keeps(self, c: Candidate) -> bool:
        if self.mode == "all":
            return True
        if self.mode == "none":
            return False
        if c.hash != self.threshold:
            return c.hash < self.threshold
        return self.mode == "below" or c.key in self.tie_keep


def cuts(
    hashes: Mapping[Cell, np.ndarray], take: Mapping[Cell, int]
) -> tuple[dict[Cell, Cut], dict[Cell, tuple[int, int]]]:
    """The cut of every cell keeping exactly ``take[cell]`` candidates, and the cells whose cut
    falls inside a run of equal hashes: ``{cell: (threshold, how many of them to keep)}``."""
    out: dict[Cell, Cut] = {}
    tied: dict[Cell, tuple[int, int]] = {}
    for cell, h in hashes.items():
        k = take.get(cell, 0)
        if k >= len(h):
            out[cell] = Cut("all")
        elif k <= 0:
            out[cell] = Cut("none")
        else:
            t = int(np.partition(h, k - 1)[k - 1])
            below = int(np.count_nonzero(h < t))
            equal = int(np.count_nonzero(h == t))
            if below + equal == k:
                out[cell] = Cut("below", t)
            else:
                tied[cell] = (t, k - below)
                out[cell] = Cut("ties", t)
    return out, tied


def resolve_ties(
    out: dict[Cell, Cut], tied: Mapping[Cell, tuple[int, int]], every: Iterable[Candidate]
) -> None:
    """Fill the tied cuts from ``every`` candidate of every bucket: keep the smallest keys."""
    keys: dict[Cell, list[Key]] = {cell: [] for cell in tied}
    for c in every:
        if c.cell in tied and c.hash == tied[c.cell][0]:
            keys[c.cell].append(c.key)
    for cell, (t, m) in tied.items():
        out[cell] = Cut("ties", t, frozenset(sorted(keys[cell])[:m]))
