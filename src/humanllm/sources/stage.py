"""Stage ``ingest``: every source's raw files -> ``records/`` (+ ``items/`` for Amazon,
``comments/`` for a Reddit source with ``comments:`` or a Twitter source with ``replies:``) and
``rejects/``."""

from __future__ import annotations

import shutil
from typing import Any

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from humanllm.records import COMMENT_SCHEMA, ITEM_SCHEMA, RECORD_SCHEMA, conform
from humanllm.runfolder import SourceCounts
from humanllm.sources.kind import Reader, get_source_kind
from humanllm.stage import StageContext, StageResult


def run_ingest(ctx: StageContext) -> StageResult:
    result = StageResult()
    items_total = comments_total = comment_rejects = 0
    for folder in ("items", "comments"):  # written by this stage too: no stale shards
        shutil.rmtree(ctx.run.stage_dir(folder), ignore_errors=True)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=None),
        TextColumn("{task.fields[records]:,} records · {task.fields[rejects]:,} rejects"),
        TimeElapsedColumn(),
        console=ctx.console,
        transient=True,
    )
    with progress:
        for src in ctx.cfg.sources:
            name = src.source_name
            counts = SourceCounts()
            task = progress.add_task(f"ingest {name}", total=None, records=0, rejects=0)
            kind = get_source_kind(src.kind)
            for i, chunk in enumerate(kind.read(src)):
                shard = f"{name}-{i:05d}"
                records = conform(chunk.records, RECORD_SCHEMA)
                if records.height:
                    ctx.run.write_shard("records", shard, records)
                counts.records_out += records.height
                if chunk.items is not None and chunk.items.height:
                    items = conform(chunk.items, ITEM_SCHEMA)
                    ctx.run.write_shard("items", shard, items)
                    items_total += items.height
                if chunk.rejects is not None:
                    counts.rejected += ctx.run.write_rejects(ctx.stage, name, shard, chunk.rejects)
                counts.records_in = counts.records_out + counts.rejected
                progress.update(task, records=counts.records_out, rejects=counts.rejected)
            if kind.comments is not None:
                n, bad = _ingest_comments(ctx, src, kind.comments)
                comments_total, comment_rejects = comments_total + n, comment_rejects + bad
            result.counts[name] = counts
    result.extra["items"] = items_total
    if comments_total or comment_rejects:
        result.extra["comments"] = comments_total
        result.extra["comment_rejects"] = comment_rejects
    return result


def _ingest_comments(ctx: StageContext, src: Any, reader: Reader) -> tuple[int, int]:
    """The source's comments (replies) file -> ``comments/`` and rejects: ``(read, rejected)``."""
    name = src.source_name
    read = rejected = 0
    for i, chunk in enumerate(reader(src)):
        shard = f"{name}-comments-{i:05d}"
        comments = conform(chunk.records, COMMENT_SCHEMA)
        if comments.height:
            ctx.run.write_shard("comments", shard, comments)
        read += comments.height
        if chunk.rejects is not None:
            rejected += ctx.run.write_rejects(ctx.stage, name, shard, chunk.rejects)
    if read or rejected:
        ctx.console.print(f"  {name}: {read:,} comments read, {rejected:,} rejected")
    return read, rejected
