"""Stage ``filter``: the rule filters of each source, then the per-user minimum, over ``records/``.

Kept records go to ``filtered/<source>-<bucket>.parquet`` (bucket = hash of user id, so later
per-user stages can shard by bucket); every dropped record goes to ``rejects/`` with the rule.
"""

from __future__ import annotations

import polars as pl

from humanllm.filters import get_rules
from humanllm.filters.reddit import read_filtered
from humanllm.records import RECORD_SCHEMA
from humanllm.runfolder import SourceCounts
from humanllm.sources.config import RedditSource, SourceConfig
from humanllm.stage import StageContext, StageError, StageResult

DUPLICATE = "all.duplicate_record_id"
MIN_RECORDS = "all.min_records_per_user"


def apply_common_rules(flagged: pl.LazyFrame, min_records_per_user: int) -> pl.LazyFrame:
    """Duplicate record ids, then the per-user minimum over the records every other rule kept."""
    reason = pl.col("reason")
    flagged = flagged.with_columns(
        pl.when(reason.is_null() & ~pl.col("record_id").is_first_distinct())
        .then(pl.lit(DUPLICATE))
        .otherwise(reason)
        .alias("reason")
    )
    kept_per_user = pl.col("reason").is_null().sum().over("user_id")
    return flagged.with_columns(
        pl.when(pl.col("reason").is_null() & (kept_per_user < min_records_per_user))
        .then(pl.lit(MIN_RECORDS))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )


def user_bucket(n: int) -> pl.Expr:
    return (pl.col("user_id").hash(seed=0) % n).alias("_bucket")


def _flagged_frame(ctx: StageContext, src: SourceConfig) -> pl.DataFrame | None:
    """The source's records with ``reason`` set by its rule set (null = kept)."""
    fcfg = ctx.cfg.filter
    if isinstance(src, RedditSource) and fcfg.reddit.fused:
        # one pass over the raw files; parse rejects were already written by ingest
        kept, dropped = [], []
        for k, rej in read_filtered(src, fcfg):
            kept.append(k.with_columns(pl.lit(None, dtype=pl.String).alias("reason")))
            dropped.append(rej.filter(~pl.col("reason").str.starts_with("parse.")))
        rejects = pl.concat(dropped, how="diagonal_relaxed") if dropped else pl.DataFrame()
        return pl.concat([*kept, rejects], how="diagonal_relaxed") if kept or dropped else None
    lf = ctx.run.scan("records", f"{src.source_name}-")
    if lf is None:
        return None
    kind = getattr(src, "filter_as", src.kind)
    try:
        rules = get_rules(kind)
    except KeyError as e:
        raise StageError(f"no rule set for source kind {kind!r}") from e
    return rules(lf, fcfg, src).collect(engine="streaming")


def run_filter(ctx: StageContext) -> StageResult:
    result = StageResult()
    fcfg = ctx.cfg.filter
    for src in ctx.cfg.sources:
        name = src.source_name
        counts = SourceCounts()
        result.counts[name] = counts
        flagged = _flagged_frame(ctx, src)
        if flagged is None or flagged.height == 0:
            ctx.console.print(f"[yellow]filter {name}: ingest produced no records[/yellow]")
            continue
        df = apply_common_rules(flagged.lazy(), fcfg.min_records_per_user).collect()
        counts.records_in = df.height
        rejected = df.filter(pl.col("reason").is_not_null())
        cols = ["record_id", "reason", *(["detail"] if "detail" in df.columns else [])]
        counts.rejected = ctx.run.write_rejects(ctx.stage, name, name, rejected.select(cols))
        kept = (
            df.filter(pl.col("reason").is_null())
            .select(list(RECORD_SCHEMA))
            .with_columns(user_bucket(fcfg.user_buckets))
        )
        counts.records_out = kept.height
        for (bucket,), part in kept.group_by("_bucket", maintain_order=True):
            shard = f"{name}-{int(bucket):05d}"  # type: ignore[call-overload]
            ctx.run.write_shard(
                "filtered", shard, part.drop("_bucket").sort("user_id", "created_at")
            )
        ctx.console.print(
            f"  {name}: {counts.records_in:,} in → {counts.records_out:,} kept, {counts.rejected:,} rejected"
        )
    return result
