"""The user split and the balanced sampler (§3.2: "roughly equal representation across tasks and
data sources"), both decided by hashes so that a user's fate never depends on which other users
are read with it (the stage reads the genome user bucket by user bucket).

Hash: :func:`key_hash` is BLAKE2b (RFC 7693, Python's ``hashlib``) with an 8-byte digest of the
key's parts joined by ``\\x1f``, read big-endian as an unsigned 64-bit integer: stable across
Python, Polars and platform versions.

Split (:class:`UserSplit`): a user is a test user when the hash of ``(seed, "split", source,
user_id)``, as a fraction of 2**64, is below ``test_fraction``. Two clamps keep every source with
two or more users on both sides when the fraction is positive: when no user of the source falls
below the fraction, the one with the smallest hash is a test user; when all do, the one with the
largest hash is a training user. A source's only user is a training user. The clamps need only
the smallest and the largest hash of each source, gathered in one pass over the user ids.
Every row of a test user goes to test, so no test user is seen in training.

Balance: within a split, every task×source cell gets an equal quota of ``total`` rows; a cell with
fewer rows gives all it has and what it leaves is shared equally among the larger cells (water
filling), so the quotas add up to ``total`` exactly whenever enough rows exist. A cell keeps the
rows whose selection hash is among its ``quota`` smallest (:mod:`humanllm.tasks.select`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from humanllm.seeds import rng_for

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

HASH_SPACE = 1 << 64


def key_hash(*parts: object) -> int:
    """A stable unsigned 64-bit hash of ``parts`` (BLAKE2b, 8-byte digest)."""
    key = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def bucket_of(source: str, user_id: str, n: int) -> int:
    """The user bucket (unit of work) of a user: ``key_hash("bucket", source, user_id) mod n``."""
    return key_hash("bucket", source, user_id) % n


@dataclass
class UserSplit:
    """The test users: a hash threshold per user and the two clamps per source (see module doc)."""

    fraction: float
    seed: int
    #: Per source: ``[smallest hash, its user, largest hash, its user]`` seen so far.
    extremes: dict[str, list[Any]] = field(default_factory=dict)

    def user_hash(self, source: str, user_id: str) -> int:
        return key_hash(self.seed, "split", source, user_id)

    def observe(self, source: str, user_id: str) -> None:
        """Take a user into account for the clamps (any order, repeats allowed)."""
        h = self.user_hash(source, user_id)
        e = self.extremes.get(source)
        if e is None:
            self.extremes[source] = [h, user_id, h, user_id]
            return
        if (h, user_id) < (e[0], e[1]):
            e[0], e[1] = h, user_id
        if (h, user_id) > (e[2], e[3]):
            e[2], e[3] = h, user_id

    def is_test(self, source: str, user_id: str) -> bool:
        e = self.extremes.get(source)
        if e is None or self.fraction <= 0 or e[1] == e[3]:  # unknown, no test split, only user
            return False
        cut = int(self.fraction * HASH_SPACE)
        if e[0] >= cut and user_id == e[1]:  # nobody below the fraction: the smallest is test
            return True
        if e[2] < cut and user_id == e[3]:  # everybody below it: the largest is training
            return False
        return self.user_hash(source, user_id) < cut

    def test_users(self, users: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The test users among ``users`` (all of them observed first)."""
        users = set(users)
        for source, user_id in users:
            self.observe(source, user_id)
        return {u for u in users if self.is_test(*u)}


def split_users(
    users: Iterable[tuple[str, str]], fraction: float, seed: int
) -> set[tuple[str, str]]:
    """The ``(source, user_id)`` pairs that form the test split."""
    return UserSplit(fraction, seed).test_users(users)


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
