"""Stage ``ingest``: every source's raw files -> ``records/`` (+ ``items/``) and ``rejects/``."""

from __future__ import annotations

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from humanllm.records import ITEM_SCHEMA, RECORD_SCHEMA, conform
from humanllm.runfolder import SourceCounts
from humanllm.sources import get_reader
from humanllm.stage import StageContext, StageResult


def run_ingest(ctx: StageContext) -> StageResult:
    result = StageResult()
    items_total = 0
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
            for i, chunk in enumerate(get_reader(src.kind)(src)):
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
            result.counts[name] = counts
    result.extra["items"] = items_total
    return result
