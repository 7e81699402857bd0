"""The user split and the balanced sampler (§3.2: "roughly equal representation across tasks and
data sources").

Split: within each source, the users (sorted, then shuffled with the seed) are cut so that
``round(n × test_fraction)`` of them are test users — at least one and at most ``n - 1`` when the
source has two or more users and the fraction is positive. Every row of a test user goes to test,
so no test user is seen in training.

Balance: within a split, every task×source cell gets an equal quota of ``total`` rows; a cell with
fewer rows gives all it has and what it leaves is shared equally among the larger cells (water
filling), so the quotas add up to ``total`` exactly whenever enough rows exist. Each cell is then
sampled without replacement with a generator seeded by (seed, split, task, source).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

from humanllm.tasks.rows import rng_for

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def split_users(
    users: Iterable[tuple[str, str]], fraction: float, seed: int
) -> set[tuple[str, str]]:
    """The ``(source, user_id)`` pairs that form the test split."""
    by_source: dict[str, list[str]] = {}
    for source, user_id in set(users):
        by_source.setdefault(source, []).append(user_id)
    test: set[tuple[str, str]] = set()
    for source, ids in sorted(by_source.items()):
        ids.sort()
        rng_for(seed, "split", source).shuffle(ids)
        n = len(ids)
        k = round(n * fraction)
        if fraction > 0 and n >= 2:
            k = min(max(k, 1), n - 1)
        test.update((source, u) for u in ids[:k])
    return test


def quotas(sizes: Mapping[K, int], total: int | None, seed: int = 0) -> dict[K, int]:
    """Rows to take from each cell: all when ``total`` is None or covers everything, else the
    water-filling shares (equal caps; the remainder of the integer division goes, one row each,
    to cells chosen with the seed among those that still have rows)."""
    if total is None or sum(sizes.values()) <= total:
        return dict(sizes)
    lo, hi = 0, max(sizes.values())  # the largest cap c with sum(min(n, c)) <= total
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(n, mid) for n in sizes.values()) <= total:
            lo = mid
        else:
            hi = mid - 1
    take = {key: min(n, lo) for key, n in sizes.items()}
    spare = total - sum(take.values())
    larger = sorted((key for key, n in sizes.items() if n > lo), key=repr)
    rng_for(seed, "quotas").shuffle(larger)
    for key in larger[:spare]:
        take[key] += 1
    return take


def sample_cell(rows: Sequence[T], k: int, seed: int, *key: object) -> list[T]:
    """``k`` of ``rows`` without replacement, in their original order (all when k >= len)."""
    if k >= len(rows):
        return list(rows)
    picked = sorted(rng_for(seed, "sample", *key).sample(range(len(rows)), k))
    return [rows[i] for i in picked]
