"""Training data: ShareGPT JSONL task files, validated, as TRL prompt/completion conversations.

A row is ``{"system": str?, "conversations": [{"from": "human"|"gpt", "value": str}, ...]}``; turns
alternate human/gpt, start with human and end with gpt. Other fields (``user_id``, ``source``,
``task`` ...) are kept out of training. A malformed row is an :class:`SFTDataError` naming
``file:line``; a file without rows is an error too (an empty task is a bug upstream).

Each row becomes TRL's conversational prompt/completion form: ``prompt`` is the system message and
every turn before the last, ``completion`` is the last gpt turn. TRL then masks the prompt tokens
out of the loss, so only the final reply is learned (earlier gpt turns of a multi-turn row are
context). The six humanllm tasks are single-turn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from humanllm.tasks.sharegpt import ROLES
from humanllm.tasks.sharegpt import check_row as _check_row

if TYPE_CHECKING:
    from datasets import Dataset


class SFTDataError(ValueError):
    """A task file that cannot be trained on; the message names ``file:line`` and the problem."""


Message = dict[str, str]


@dataclass(frozen=True)
class SFTExample:
    """One training row in TRL's conversational prompt/completion form."""

    prompt: list[Message]
    completion: list[Message]

    def as_dict(self) -> dict[str, list[Message]]:
        return {"prompt": self.prompt, "completion": self.completion}


def to_example(row: dict[str, Any]) -> SFTExample:
    """Convert a validated ShareGPT row to prompt/completion messages."""
    turns = row["conversations"]
    prompt: list[Message] = []
    system = row.get("system")
    if system and system.strip():
        prompt.append({"role": "system", "content": system})
    prompt += [{"role": ROLES[t["from"]], "content": t["value"]} for t in turns[:-1]]
    return SFTExample(
        prompt=prompt, completion=[{"role": "assistant", "content": turns[-1]["value"]}]
    )


def read_sharegpt(path: str | Path) -> Iterator[SFTExample]:
    """Yield the rows of one ShareGPT JSONL file as examples; raises :class:`SFTDataError`."""
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8")
    except OSError as e:
        raise SFTDataError(f"{path}: cannot read task file ({e.strerror or e})") from e
    rows = 0
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SFTDataError(f"{path}:{lineno}: not valid JSON ({e.msg})") from e
            problem = _check_row(row)
            if problem:
                raise SFTDataError(f"{path}:{lineno}: {problem}")
            rows += 1
            yield to_example(row)
    if rows == 0:
        raise SFTDataError(
            f"{path}: no rows (empty task file); rebuild the tasks or leave this file out"
        )


def count_rows(files: list[Path]) -> dict[str, int]:
    """Validate every file completely (one streaming pass); returns rows per file."""
    if not files:
        raise SFTDataError("no training files given")
    return {str(f): sum(1 for _ in read_sharegpt(f)) for f in files}


def files_fingerprint(files: list[Path]) -> str:
    """sha256 over the files' names and bytes: identifies the training data."""
    h = hashlib.sha256()
    for f in files:
        h.update(str(Path(f).resolve()).encode() + b"\0")
        try:
            with Path(f).open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        except OSError as e:
            raise SFTDataError(f"{f}: cannot read task file ({e.strerror or e})") from e
        h.update(b"\0")
    return h.hexdigest()[:16]


def task_files(tasks_dir: str | Path, split: str = "train") -> list[Path]:
    """``<tasks_dir>/<task>/<split>.jsonl`` for every task folder, sorted by task name."""
    root = Path(tasks_dir)
    files = sorted(root.glob(f"*/{split}.jsonl"))
    if not files:
        raise SFTDataError(f"{root}: no <task>/{split}.jsonl files; run the tasks stage first")
    return files


def _generate(files: list[str]) -> Iterator[dict[str, list[Message]]]:
    for f in files:
        for ex in read_sharegpt(f):
            yield ex.as_dict()


def load_sft_dataset(files: list[Path], cache_dir: Path) -> Dataset:
    """Validate ``files`` and build an Arrow-backed (memory-mapped) ``datasets.Dataset``.

    The Arrow cache lives in ``cache_dir`` and is keyed by the files' content, so a changed file is
    never served stale and a re-run (or resume) reuses the conversion.
    """
    from datasets import Dataset

    files = [Path(f) for f in files]
    count_rows(files)  # every error surfaces here, before the trainer starts
    return Dataset.from_generator(
        _generate,
        gen_kwargs={"files": [str(f) for f in files]},
        cache_dir=str(cache_dir),
        fingerprint=f"humanllm-sft-{files_fingerprint(files)}",
    )
