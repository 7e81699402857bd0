"""The card ``tasks/README.md``: what the task files are, with the Hugging Face card YAML (one
config per task, its ``train`` / ``test`` files as splits) so ``datasets.load_dataset("tasks",
"<task>")`` reads one task. LlamaFactory reads ``dataset_info.json`` beside it instead."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from humanllm.curation.card import hub_front_matter

SPLIT_ORDER = ("train", "test")


def task_configs(files: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """One config per task folder of ``(folder, split)`` files, its splits in train/test order."""
    splits: dict[str, list[str]] = {}
    for folder, split in sorted(set(files)):
        splits.setdefault(folder, []).append(split)
    return [
        {
            "config_name": folder,
            "data_files": [
                {"split": s, "path": f"{folder}/{s}.jsonl"}
                for s in sorted(
                    found, key=lambda s: (s not in SPLIT_ORDER, (*SPLIT_ORDER, s).index(s))
                )
            ],
        }
        for folder, found in splits.items()
    ]


def tasks_card(files: Iterable[tuple[str, str]], counts: dict[str, dict[str, int]]) -> str:
    """The card's text; ``counts`` is ``{folder: {split: rows}}``."""
    configs = task_configs(files)
    lines = [
        hub_front_matter(configs),
        "# HumanLLM training tasks",
        "",
        "Conversations built from the Cognitive Genome (ShareGPT: `system`, `conversations` of "
        '`{"from": "human" | "gpt", "value"}`, `user_id`, `source`, `task`), split by user: no '
        "test user is in a training file.",
        "",
        "| task | " + " | ".join(SPLIT_ORDER) + " |",
        "|---|" + "---|" * len(SPLIT_ORDER),
        *[
            f"| `{c['config_name']}` | "
            + " | ".join(f"{counts.get(c['config_name'], {}).get(s, 0):,}" for s in SPLIT_ORDER)
            + " |"
            for c in configs
        ],
        "",
        "## Load",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("tasks", "{configs[0]["config_name"] if configs else "<task>"}")  # train and test splits',
        "```",
        "",
        "LlamaFactory: `dataset_dir: tasks`, datasets `<task>_train` / `<task>_test` "
        "(registered in `dataset_info.json`).",
        "",
    ]
    return "\n".join(lines)
