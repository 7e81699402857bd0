"""Stage ``tasks``: the genome as training data — ``tasks/<task>/{train,test}.jsonl`` (ShareGPT, one
row per line), ``tasks/dataset_info.json`` registering every file for LlamaFactory, whose
``dataset_dir`` is then the ``tasks/`` folder (``dataset: social_qa_train,item_selection_train``),
and ``tasks/README.md``, a card whose YAML names one ``datasets`` config per task.

A task without rows (e.g. no Amazon source and no comments file: no commenting; no Amazon
source: no item selection) is skipped with a
notice; a split without rows for a task gets no file. ``_SUCCESS.json`` records the rows written
per task, split and source, the rows available before balancing, the inputs each builder could not
use and why, the users per split, the notices and the number of user buckets.

The genome is read one user bucket at a time (``tasks.bucket_records``; see
:mod:`humanllm.tasks.build`); the work in progress lives in ``tasks/_work/`` until the files are
merged, so a killed stage whose folder is kept resumes with its unfinished buckets.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from humanllm.curation.common import source_kinds
from humanllm.runfolder import SourceCounts, atomic_write_text
from humanllm.stage import StageContext, StageError, StageResult
from humanllm.tasks.build import Inputs, TaskData, build_tasks
from humanllm.tasks.card import tasks_card
from humanllm.tasks.inputs import GenomeError, check_tables
from humanllm.tasks.prompts import PROMPT_VERSION
from humanllm.tasks.registry import source_files
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
    """The stage's version: a digest of the code that decides what rows are written (the shared
    modules here, then each registered task's module)."""
    h = hashlib.sha256()
    for name in (
        "prompts",
        "task",
        "registry",
        "sharegpt",
        "rows",
        "inputs",
        "sampling",
        "variants",
        "buckets",
        "select",
        "parts",
        "build",
        "card",
    ):
        h.update(Path(__file__).with_name(f"{name}.py").read_bytes())
    for path in source_files():
        h.update(path.read_bytes())
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


def write_task_data(data: TaskData, out: Path) -> None:
    """What comes beside the task files: ``dataset_info.json`` and the card."""
    info = dataset_info(data.files)
    atomic_write_text(json.dumps(info, indent=2) + "\n", out / DATASET_INFO)
    counts: dict[str, dict[str, int]] = {}
    for (folder, split), by_source in data.files.items():
        counts.setdefault(folder, {})[split] = sum(by_source.values())
    atomic_write_text(tasks_card(data.files, counts), out / "README.md")


def run_tasks(ctx: StageContext) -> StageResult:
    cfg = ctx.cfg.tasks
    folder = ctx.run.stage_dir("genome")
    try:
        inputs = Inputs(folder, check_tables(folder))
    except GenomeError as e:
        raise StageError(str(e)) from e
    if cfg.variant == "raw":
        shards = ctx.run.shards("records")
        if not shards:
            raise StageError(
                "variant raw trains on the raw records in records/; run the ingest stage"
            )
        inputs = Inputs(folder, inputs.genome, shards)
    out = ctx.run.stage_dir("tasks")

    def log(message: str) -> None:
        ctx.console.print(f"  [dim]{message}[/dim]", highlight=False)

    try:
        data = build_tasks(inputs, out, cfg, source_kinds(ctx), code_version(), log)
    except (GeneralDataError, GenomeError) as e:
        raise StageError(str(e)) from e
    if not any(split == "train" for _, split in data.files):
        raise StageError(
            "no training rows: the genome has no usable rows for the tasks of variant "
            f"{cfg.variant!r} among its training users ({'; '.join(data.notices) or 'empty genome'})"
        )
    write_task_data(data, out)
    for notice in data.notices:
        ctx.console.print(f"  [yellow]notice[/yellow] {notice}", highlight=False)

    counts = data.counts()
    for name, splits in counts.items():
        line = ", ".join(f"{split} {sum(n.values()):,}" for split, n in splits.items())
        ctx.console.print(f"  {name}: {line}", highlight=False)
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
            "buckets": data.buckets,
            "sources": {s: {"records": written[s], "users": users.get(s, 0)} for s in written},
        }
    )
    return result
