"""Stage ``tasks``: the genome as training data — ``tasks/<task>/{train,test}.jsonl`` (ShareGPT, one
row per line), ``tasks/dataset_info.json`` registering every file for LlamaFactory, whose
``dataset_dir`` is then the ``tasks/`` folder (``dataset: social_qa_train,item_selection_train``),
and ``tasks/README.md``, a card whose YAML names one ``datasets`` config per task.

A task without rows (e.g. no Amazon source and no comments file: no commenting; no Amazon
source: no item selection) is skipped with a
notice; a split without rows for a task gets no file. ``_SUCCESS.json`` records the rows written
per task, split and source, the rows available before balancing, the inputs each builder could not
use and why, the users per split, and the notices.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from humanllm.curation.common import source_kinds
from humanllm.runfolder import SourceCounts, atomic_write_text
from humanllm.stage import StageContext, StageError, StageResult
from humanllm.tasks.build import TaskData, build_task_data
from humanllm.tasks.card import tasks_card
from humanllm.tasks.inputs import GenomeError, load_genome
from humanllm.tasks.prompts import PROMPT_VERSION
from humanllm.tasks.rows import Row
from humanllm.tasks.variants import GeneralDataError

DATASET_INFO = "dataset_info.json"
#: How LlamaFactory reads our rows (its data/README.md, "Sharegpt Format").
SHAREGPT_COLUMNS = {"messages": "conversations", "system": "system"}
SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
}


def code_version() -> str:
    """The stage's version: a digest of the code that decides what rows are written."""
    h = hashlib.sha256()
    for name in (
        "prompts",
        "builders",
        "commenting",
        "rows",
        "inputs",
        "sampling",
        "variants",
        "build",
        "card",
    ):
        h.update(Path(__file__).with_name(f"{name}.py").read_bytes())
    return h.hexdigest()[:12]


def dataset_info(files: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """LlamaFactory's ``dataset_info.json`` for ``(folder, split)`` files: ``<folder>_<split>``."""
    return {
        f"{folder}_{split}": {
            "file_name": f"{folder}/{split}.jsonl",
            "formatting": "sharegpt",
            "columns": dict(SHAREGPT_COLUMNS),
            "tags": dict(SHAREGPT_TAGS),
        }
        for folder, split in sorted(files)
    }


def write_jsonl(rows: Iterable[Row], path: Path) -> int:
    """Stream ``rows`` to ``path`` (written beside it, then renamed); returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def write_task_data(data: TaskData, out: Path) -> None:
    for (folder, split), rows in sorted(data.files.items()):
        write_jsonl(rows, out / folder / f"{split}.jsonl")
    info = dataset_info(data.files)
    atomic_write_text(json.dumps(info, indent=2) + "\n", out / DATASET_INFO)
    counts: dict[str, dict[str, int]] = {}
    for (folder, split), part in data.files.items():
        counts.setdefault(folder, {})[split] = len(part)
    atomic_write_text(tasks_card(data.files, counts), out / "README.md")


def run_tasks(ctx: StageContext) -> StageResult:
    cfg = ctx.cfg.tasks
    try:
        genome = load_genome(ctx.run.stage_dir("genome"))
    except GenomeError as e:
        raise StageError(str(e)) from e
    raw = None
    if cfg.variant == "raw":
        lf = ctx.run.scan("records")
        if lf is None:
            raise StageError(
                "variant raw trains on the raw records in records/; run the ingest stage"
            )
        raw = lf.select("source", "record_id", "user_id", "text", "title").collect()
    try:
        data = build_task_data(genome, cfg, source_kinds(ctx), raw)
    except GeneralDataError as e:
        raise StageError(str(e)) from e
    if not any(split == "train" for _, split in data.files):
        raise StageError(
            "no training rows: the genome has no usable rows for the tasks of variant "
            f"{cfg.variant!r} among its training users ({'; '.join(data.notices) or 'empty genome'})"
        )
    out = ctx.run.stage_dir("tasks")
    write_task_data(data, out)
    for notice in data.notices:
        ctx.console.print(f"  [yellow]notice[/yellow] {notice}", highlight=False)

    counts = data.counts()
    for folder, splits in counts.items():
        line = ", ".join(f"{split} {sum(n.values()):,}" for split, n in splits.items())
        ctx.console.print(f"  {folder}: {line}", highlight=False)
    result = StageResult()
    available = Counter[str]()
    for by_source in data.available.values():
        available.update(by_source)
    written = Counter[str]()
    for splits in counts.values():
        for by_source in splits.values():
            written.update(by_source)
    for source in sorted(set(available) | set(written)):
        result.counts[source] = SourceCounts(
            records_in=available.get(source, written[source]), records_out=written[source]
        )
    users: Counter[str] = Counter()
    for by_source in data.users.values():
        users.update(by_source)
    result.extra.update(
        {
            "variant": cfg.variant,
            "prompt_version": PROMPT_VERSION,
            "tasks": counts,
            "available": data.available,
            "skipped": data.skipped,
            "skipped_tasks": data.skipped_tasks,
            "users": data.users,
            "general": data.general,
            "notices": data.notices,
            "sources": {s: {"records": written[s], "users": users.get(s, 0)} for s in written},
        }
    )
    return result
