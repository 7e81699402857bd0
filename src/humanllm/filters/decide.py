"""The filter stage's global pass: the rules that need a whole source, over compact columns only.

Pass 1 (:mod:`humanllm.filters.units`) leaves one small ``flags`` file per unit: for each row its
``unit``, ``row``, ``phase`` (its place in the source's frame order: see ``units``), ``code`` (the
row rule that dropped it, null when kept) and, for each id it carries (record, user, and for
Amazon the item), a 64-bit hash ``<id>_h`` and an independent 32-bit check hash ``<id>_c``. No
text. This module turns those columns into the rules that count across the source:

1. ``all.duplicate_record_id``: a record id seen earlier in frame order (``phase``, ``unit``,
   ``row``), over every row, rejected or not; a copy whose rules kept it is dropped.
2. Amazon k-core (:func:`humanllm.filters.amazon.kcore_rounds`) over the (user, item) pairs of
   the rows every rule kept and that are the first copy of their record: 24 bytes a pair here,
   about 25 more inside the rounds (dense codes, the arrays of live rows); the review text
   never enters.
3. ``all.min_records_per_user``: users left with fewer kept records than the minimum.

Hashes: two different ids share a 64-bit hash with probability ~n²/2^65 (about 1% among the
paper's 571M Amazon record ids), so every count keyed by a hash also takes the min and max of
the check hash; a key whose check varies is a collision. It is reported (``collisions`` in the
stage's ``_SUCCESS.json``) and its rows are re-keyed by a hash of (hash, check), so the result is
still exact unless two ids agree on all 96 bits.

Memory: the group-bys over all rows (record ids, users) run on the streaming engine, split into
``ceil(rows / partition_rows)`` partitions by the key's hash, so one partition's groups are in
memory at a time; what is kept across steps is the duplicate rows, one count per user, and the
rows whose outcome the global rules changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import polars as pl

from humanllm.filters.amazon import BY_ITEM, KEEP, kcore_rounds
from humanllm.filters.config import FilterConfig

DUPLICATE = "all.duplicate_record_id"
MIN_RECORDS = "all.min_records_per_user"
KCORE_ITEM, KCORE_USER = "amazon.kcore_item", "amazon.kcore_user"
#: Codes the global rules give; the row rules' reasons are numbered after them.
GLOBAL_REASONS = (DUPLICATE, MIN_RECORDS, KCORE_ITEM, KCORE_USER)

#: Bits of the id hashes (tests lower it to force collisions).
ID_BITS = 64
_SEED, _CHECK_SEED, _REKEY_SEED = 0x48554D31, 0x48554D32, 0x48554D33
_CODE = pl.UInt16


def id_hashes(column: str, prefix: str) -> list[pl.Expr]:
    """``<prefix>_h`` (UInt64, the key) and ``<prefix>_c`` (UInt32, the check) of ``column``."""
    h = pl.col(column).hash(seed=_SEED)
    if ID_BITS < 64:
        h = h & pl.lit((1 << ID_BITS) - 1, dtype=pl.UInt64)
    check = (pl.col(column).hash(seed=_CHECK_SEED) & pl.lit(0xFFFFFFFF, dtype=pl.UInt64)).cast(
        pl.UInt32
    )
    return [h.alias(f"{prefix}_h"), check.alias(f"{prefix}_c")]


def order_key() -> pl.Expr:
    """A row's place in the source's frame order as one UInt64 (phase, unit, row)."""
    big = pl.UInt64
    return (
        (pl.col("phase").cast(big) * (1 << 62))
        + (pl.col("unit").cast(big) * (1 << 32))
        + pl.col("row").cast(big)
    ).alias("_order")


@dataclass(frozen=True)
class Keys:
    """Exact keys of one id kind: the 64-bit hash, except for the hashes shared by different ids
    (``collided``), whose rows take a hash of (hash, check) instead."""

    prefix: str
    collided: pl.Series

    def expr(self) -> pl.Expr:
        h, c = pl.col(f"{self.prefix}_h"), pl.col(f"{self.prefix}_c")
        if self.collided.len() == 0:
            return h.alias(f"{self.prefix}_k")
        rekeyed = pl.struct(h, c).hash(seed=_REKEY_SEED)
        return (
            pl.when(h.is_in(self.collided.implode()))
            .then(rekeyed)
            .otherwise(h)
            .alias(f"{self.prefix}_k")
        )


@dataclass
class Decisions:
    """What the global rules decided for one source."""

    #: ``unit``, ``row``, ``code`` (UInt16), ``round`` (k-core round, null for a duplicate): the
    #: rows the row rules kept and a global rule dropped; sorted by unit.
    changes: pl.DataFrame
    #: ``unit``, ``row``, ``short`` (UInt16, the code of the per-user minimum): the kept rows of
    #: users left with too few records (the rows in ``changes`` aside: those go anyway); sorted
    #: by unit.
    short_rows: pl.DataFrame
    collisions: dict[str, int] = field(default_factory=dict)


def _grouped(
    lf: pl.LazyFrame, key: str, aggs: Sequence[pl.Expr], parts: int, keep: pl.Expr | None = None
) -> pl.DataFrame:
    """``lf.group_by(key).agg(aggs)`` on the streaming engine, one hash partition at a time."""
    out = []
    for p in range(parts):
        q = lf if parts == 1 else lf.filter(pl.col(key) % parts == p)
        q = q.group_by(key).agg(*aggs)
        out.append((q if keep is None else q.filter(keep)).collect(engine="streaming"))
    return pl.concat(out)


def _check_range(prefix: str) -> list[pl.Expr]:
    c = pl.col(f"{prefix}_c")
    return [c.min().alias("_lo"), c.max().alias("_hi")]


def _collided(groups: pl.DataFrame, prefix: str) -> pl.Series:
    return groups.filter(pl.col("_lo") != pl.col("_hi"))[f"{prefix}_h"]


def _duplicates(flags: pl.LazyFrame, parts: int) -> tuple[pl.DataFrame, int]:
    """Rows that are not the first copy of their record id (with their ``code`` and user
    hashes), and the number of record-id hash collisions."""
    aggs = [pl.len().alias("_n"), *_check_range("rid")]
    multi = _grouped(flags, "rid_h", aggs, parts, keep=pl.col("_n") > 1)
    collisions = _collided(multi, "rid").len()
    rows = flags.join(multi.lazy().select("rid_h"), on="rid_h", how="semi")
    later = order_key() != order_key().min().over("rid_h", "rid_c")  # exact id: 96 bits
    dups = rows.filter(later).select("unit", "row", "code", "user_h", "user_c")
    return dups.collect(engine="streaming"), collisions


def _user_counts(kept: pl.LazyFrame, parts: int) -> tuple[pl.DataFrame, Keys]:
    """Rows the row rules kept, per exact user key (``user_k``, ``_n``)."""
    groups = _grouped(kept, "user_h", [pl.len().alias("_n"), *_check_range("user")], parts)
    users = Keys("user", _collided(groups, "user"))
    counts = groups.filter(pl.col("_lo") == pl.col("_hi")).select(
        pl.col("user_h").alias("user_k"), "_n"
    )
    if users.collided.len():
        exact = (
            kept.filter(pl.col("user_h").is_in(users.collided.implode()))
            .group_by(users.expr())
            .agg(pl.len().alias("_n"))
            .collect(engine="streaming")
        )
        counts = pl.concat([counts, exact])
    return counts, users


def _kcore(
    kept: pl.LazyFrame, dups: pl.DataFrame, users: Keys, cfg: FilterConfig, codes: dict[str, int]
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The rows the k-core removes (``unit``, ``row``, ``code``, ``round``), the number removed
    per user (``user_k``, ``_lost``), and the number of item hash collisions."""
    counted = kept.join(dups.lazy().select("unit", "row"), on=["unit", "row"], how="anti")
    items = Keys("item", _collided(_grouped(counted, "item_h", _check_range("item"), 1), "item"))
    pairs = counted.select("unit", "row", users.expr(), items.expr()).collect(engine="streaming")
    outcome = kcore_rounds(
        pairs.select(pl.col("user_k").alias("user_id"), pl.col("item_k").alias("item_id")),
        cfg.amazon.min_item_records,
        cfg.amazon.min_user_records,
    )
    pairs = pairs.drop("item_k")  # from here on, only what the removed rows need
    gone = outcome["rule"] != KEEP
    lost = pairs.get_column("user_k").filter(gone).value_counts(name="_lost")
    pairs = pairs.drop("user_k")
    removed = (
        pairs.with_columns(outcome)
        .filter(gone)
        .select(
            "unit",
            "row",
            pl.when(pl.col("rule") == BY_ITEM)
            .then(pl.lit(codes[KCORE_ITEM], dtype=_CODE))
            .otherwise(pl.lit(codes[KCORE_USER], dtype=_CODE))
            .alias("code"),
            "round",
        )
    )
    return removed, lost, items.collided.len()


def decide(
    flags: pl.LazyFrame, rows: int, cfg: FilterConfig, codes: dict[str, int], kcore: bool
) -> Decisions:
    """The global rules over the ``flags`` of every unit of a source (``rows`` rows in all)."""
    parts = max(1, math.ceil(rows / cfg.partition_rows))
    dups, rid_collisions = _duplicates(flags, parts)
    kept = flags.filter(pl.col("code").is_null())
    counts, users = _user_counts(kept, parts)
    collisions = {"record_id": rid_collisions, "user_id": users.collided.len()}
    dup_kept = dups.filter(pl.col("code").is_null())
    frames = [
        dup_kept.select(
            "unit",
            "row",
            pl.lit(codes[DUPLICATE], dtype=_CODE).alias("code"),
            pl.lit(None, dtype=pl.UInt32).alias("round"),
        )
    ]
    losses = [dup_kept.group_by(users.expr()).agg(pl.len().alias("_lost"))]
    if kcore:
        removed, lost, collisions["item_id"] = _kcore(kept, dups, users, cfg, codes)
        frames.insert(0, removed)
        losses.append(lost)
    lost = pl.concat(losses).group_by("user_k").agg(pl.col("_lost").sum())
    left = counts.join(lost, on="user_k", how="left").select(
        "user_k", (pl.col("_n") - pl.col("_lost").fill_null(0)).alias("_left")
    )
    short = left.filter((pl.col("_left") > 0) & (pl.col("_left") < cfg.min_records_per_user))
    del counts, lost, left
    short_rows = (
        kept.with_columns(users.expr())
        .join(short.lazy().select("user_k"), on="user_k", how="semi")
        .select("unit", "row", pl.lit(codes[MIN_RECORDS], dtype=_CODE).alias("short"))
        .collect(engine="streaming")
    )
    return Decisions(
        changes=pl.concat(frames, rechunk=False).sort("unit"),
        short_rows=short_rows.sort("unit"),
        collisions=collisions,
    )


def by_unit(frame: pl.DataFrame, units: int) -> list[pl.DataFrame]:
    """The rows of ``frame`` (sorted by ``unit``) of each unit ``0..units-1``, without
    ``unit``: zero-copy slices."""
    bounds = frame["unit"].search_sorted(pl.int_range(0, units + 1, dtype=pl.UInt32, eager=True))
    rest = frame.drop("unit")
    return [rest.slice(a, b - a) for a, b in pairwise(bounds.to_list())]
