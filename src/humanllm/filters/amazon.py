"""The paper's Amazon rules (§2.1): drop reviews shorter than 100 characters, then a k-core to a
fixed point: items with >= 3 purchase records (reviews), users with >= 8.

Reasons: ``amazon.min_chars``; ``amazon.no_item`` (meta has no ``parent_asin``, so the review
cannot take part in the k-core; only possible for a generic JSONL source filtered as Amazon);
``amazon.kcore_item`` / ``amazon.kcore_user``: the k-core rule that removed the review, in the
round where it went (``detail`` says ``k-core round N``).

k-core (:func:`kcore_rounds`): user and item ids are coded once as dense integers
(:func:`dense_codes`), then each round counts reviews per item over the rows still alive
(``numpy.bincount``), drops the rows of items below the minimum, counts per user over what is
left, drops the rows of users below theirs, and shrinks the working arrays to the survivors; it
stops when a round removes nothing. The result is the unique maximal sub-multigraph in which
every item has >= ``min_item_records`` rows and every user >= ``min_user_records`` (the order of
the two steps changes only which rule is named). Only reviews that passed the length rule take
part, and a repeated record_id counts once (the copies are dropped by the filter stage as
duplicates). Cost: O(rows) per round over three UInt32 arrays (row, user, item) plus the per-row
outcome (5 bytes) and one count per id. The filter stage feeds it 64-bit id hashes from its
global pass (:mod:`humanllm.filters.decide`), never the review text; :func:`flag` is the same
rules over one frame in memory.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig

#: The top-level ``parent_asin`` of a record's meta JSON (the reader writes it as the first key).
ITEM_ID = r'"parent_asin":\s*"((?:[^"\\]|\\.)*)"'
KEEP, BY_ITEM, BY_USER = 0, 1, 2


def dense_codes(values: pl.Series) -> np.ndarray:
    """Codes ``0..k-1`` of a column's distinct values (UInt32; all nulls share one code)."""
    if not (values.dtype.is_integer() or values.dtype == pl.String):
        values = values.cast(pl.String)
    codes = values.rank("dense").fill_null(0).cast(pl.UInt32)
    return codes.to_numpy()


def kcore_rounds(
    pairs: pl.LazyFrame | pl.DataFrame, min_item_records: int, min_user_records: int
) -> pl.DataFrame:
    """Columns ``rule`` (0 kept, 1 removed by the item rule, 2 by the user rule) and ``round``
    (1-based round of the removal, 0 when kept), one row per row of ``pairs``, same order.
    A null id is one id of its own kind (all null users together)."""
    df = pairs.lazy().select("user_id", "item_id").collect()
    n = df.height
    user, item = dense_codes(df["user_id"]), dense_codes(df["item_id"])
    del df
    rule = np.zeros(n, dtype=np.uint8)
    rounds = np.zeros(n, dtype=np.uint32)
    alive = np.arange(n, dtype=np.uint32)  # rows still in the graph, and their ids
    ids = {"item": item, "user": user}
    steps = (("item", min_item_records, BY_ITEM), ("user", min_user_records, BY_USER))
    r = 0
    while alive.size:
        r += 1
        removed_any = False
        for key, minimum, code in steps:
            below = np.bincount(ids[key]) < minimum  # per id
            drop = below[ids[key]]  # per alive row
            if drop.any():
                removed_any = True
                gone = alive[drop]
                rule[gone], rounds[gone] = code, r
                keep = ~drop
                alive = alive[keep]
                ids = {k: v[keep] for k, v in ids.items()}
        if not removed_any:
            break
    return pl.DataFrame({"rule": rule, "round": rounds})


def kcore(
    pairs: pl.LazyFrame | pl.DataFrame, min_item_records: int, min_user_records: int
) -> pl.Series:
    """k-core to a fixed point over ``pairs`` (columns ``user_id``, ``item_id``, one row per
    review). Returns a Boolean Series, True = kept, same length and order as ``pairs``."""
    rule = kcore_rounds(pairs, min_item_records, min_user_records)["rule"]
    return (rule == KEEP).alias("kept")


def row_flag(records: pl.LazyFrame, rules: FilterConfig, source: object = None) -> pl.LazyFrame:
    """The per-row rules (length, item present): ``records`` plus ``reason`` and ``_item`` (the
    review's ``parent_asin``), the k-core left to the caller. The filter stage runs this per
    unit and the k-core once per source (:mod:`humanllm.filters.decide`)."""
    cfg = rules.amazon
    item = pl.col("meta").str.extract(ITEM_ID, 1)
    return records.with_columns(
        first_reason(
            [
                ("amazon.min_chars", pl.col("text").fill_null("").str.len_chars() < cfg.min_chars),
                ("amazon.no_item", item.is_null()),
            ]
        ),
        item.alias("_item"),
    )


def kcore_reason(rule: pl.Expr) -> pl.Expr:
    """The reject reason of a :func:`kcore_rounds` ``rule`` code (null when kept)."""
    return (
        pl.when(rule == BY_ITEM)
        .then(pl.lit("amazon.kcore_item"))
        .when(rule == BY_USER)
        .then(pl.lit("amazon.kcore_user"))
    )


def kcore_detail(rounds: pl.Expr) -> pl.Expr:
    """The reject detail of a k-core removal in round ``rounds`` (null when kept: round 0)."""
    return pl.when(rounds > 0).then(pl.format("k-core round {}", rounds))


def flag(records: pl.LazyFrame, rules: FilterConfig, source: object) -> pl.LazyFrame:
    """Every Amazon rule over one frame held in memory (the reference the stage matches)."""
    cfg = rules.amazon
    df = row_flag(records, rules).with_row_index("_row").collect()
    counted = df.filter(pl.col("reason").is_null() & pl.col("record_id").is_first_distinct())
    pairs = counted.select("user_id", pl.col("_item").alias("item_id"))
    outcome = kcore_rounds(pairs, cfg.min_item_records, cfg.min_user_records)
    decided = (
        counted.select("_row")
        .with_columns(outcome["rule"], outcome["round"])
        .select(
            "_row",
            kcore_reason(pl.col("rule")).alias("_kcore"),
            kcore_detail(pl.col("round")).alias("detail"),
        )
    )
    return (
        df.join(decided, on="_row", how="left", maintain_order="left")
        .with_columns(pl.coalesce("reason", "_kcore").alias("reason"))
        .drop("_row", "_item", "_kcore")
        .lazy()
    )
