"""Training data of two ablations (§4.4): ``raw`` and ``gen-mix``.

raw: the raw records (the ingest stage's ``records/``: before rule filtering, cleaning and
synthesis) as text completion. A record's text (its title, if any, on the first line) is cut at a
word boundary drawn uniformly between 20% and 80% of its length, seeded by the record id: the first
part is the human turn (inside :func:`~humanllm.tasks.prompts.text_completion`), the rest the reply.
Records shorter than ``min_text_chars`` or without a word boundary in that range are left out.

gen-mix: general instruction data read from ``.jsonl`` / ``.json`` (one object per line) or
``.parquet`` files, each row converted to a ShareGPT row. Accepted shapes: ShareGPT
``conversations`` ({from, value}; human/user, gpt/assistant, system), OpenAI/SmolTalk ``messages``
({role, content}), Alpaca ``instruction`` + ``input`` + ``output``, Orca ``system_prompt`` +
``question`` + ``response``. Rows of another shape, with tool turns, or whose turns do not alternate
human/gpt ending with gpt are counted as skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from humanllm.seeds import rng_for
from humanllm.tasks import prompts as P
from humanllm.tasks.config import RAW_TASK
from humanllm.tasks.rows import BuildOptions, Row, full_text, sharegpt, text
from humanllm.tasks.sampling import sample_cell
from humanllm.tasks.sharegpt import check_row

GENERAL_TASK = "general"
_ROLE = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt", "system": "system"}


class GeneralDataError(ValueError):
    """A general data file that cannot be read."""


# --- raw ---------------------------------------------------------------------------------------


def split_point(value: str, rng: Any) -> int | None:
    """A word boundary between 20% and 80% of ``value``, or None."""
    lo, hi = int(len(value) * 0.2), int(len(value) * 0.8)
    spaces = [i for i in range(max(lo, 1), hi + 1) if value[i] == " "]
    return rng.choice(spaces) if spaces else None


def long_enough(records: pl.DataFrame, min_chars: int) -> pl.DataFrame:
    """The records whose text alone has at least ``min_chars`` characters."""
    return records.filter(pl.col("text").str.len_chars().fill_null(0) >= min_chars)


def raw_completion_rows(rows: list[Row], o: BuildOptions, min_chars: int) -> list[Row]:
    out = []
    for r in rows:
        value = full_text(r)
        if len(value) < min_chars:
            continue
        cut = split_point(value, rng_for(o.seed, RAW_TASK, r["source"], r["record_id"]))
        if cut is None:
            continue
        prefix, rest = value[:cut].rstrip(), value[cut + 1 :].strip()
        if not prefix or not rest:
            continue
        out.append(
            sharegpt(
                P.text_completion(prefix, o.text_kind(r["source"])),
                rest,
                task=RAW_TASK,
                source=r["source"],
                user_id=r["user_id"],
                ref=r["record_id"],
            )
        )
    return out


# --- gen-mix -----------------------------------------------------------------------------------


def _turns(items: Any, role_key: str, content_key: str) -> tuple[str, list[dict[str, str]]] | None:
    if not isinstance(items, list):
        return None
    system, turns = "", []
    for i, m in enumerate(items):
        if not isinstance(m, dict):
            return None
        role = _ROLE.get(str(m.get(role_key, "")).lower())
        content = m.get(content_key)
        if role is None or not isinstance(content, str):
            return None
        if role == "system":
            if i:
                return None
            system = content
            continue
        turns.append({"from": role, "value": content})
    return system, turns


def to_sharegpt(obj: Any) -> Row | None:
    """One general-data row as ``{system, conversations}``, or None when its shape is unusable."""
    if not isinstance(obj, dict):
        return None
    parsed: tuple[str, list[dict[str, str]]] | None = None
    if "conversations" in obj:
        first = (obj["conversations"] or [{}])[0]
        keys = (
            ("from", "value")
            if isinstance(first, dict) and "from" in first
            else ("role", "content")
        )
        parsed = _turns(obj["conversations"], *keys)
        if parsed and text(obj.get("system")) and not parsed[0]:
            parsed = (text(obj.get("system")), parsed[1])
    elif "messages" in obj:
        parsed = _turns(obj["messages"], "role", "content")
    elif "instruction" in obj and "output" in obj:
        prompt = "\n".join(p for p in (text(obj.get("instruction")), text(obj.get("input"))) if p)
        parsed = (
            text(obj.get("system")),
            [{"from": "human", "value": prompt}, {"from": "gpt", "value": str(obj["output"])}],
        )
    elif "question" in obj and "response" in obj:
        parsed = (
            text(obj.get("system_prompt")),
            [
                {"from": "human", "value": str(obj["question"])},
                {"from": "gpt", "value": str(obj["response"])},
            ],
        )
    if parsed is None:
        return None
    row: Row = {"system": parsed[0], "conversations": parsed[1]}
    return None if check_row(row) else row


def _line_count(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def read_general(path: Path, k: int, seed: int) -> tuple[list[Row], Counter[str]]:
    """Up to ``k`` rows of one general data file, drawn at random (seeded), as ShareGPT rows."""
    stats: Counter[str] = Counter()
    name = general_name(path)
    if not path.is_file():
        raise GeneralDataError(f"{path}: general data file not found (tasks.general_data)")
    try:
        if path.suffix == ".parquet":
            df = pl.read_parquet(path)
            chosen = sample_cell(range(df.height), k, seed, GENERAL_TASK, name)
            objs: list[Any] = [df.row(i, named=True) for i in chosen]
        elif path.suffix in (".jsonl", ".json"):
            wanted = set(sample_cell(range(_line_count(path)), k, seed, GENERAL_TASK, name))
            objs, n = [], 0
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    if n in wanted:
                        try:
                            objs.append(json.loads(line))
                        except json.JSONDecodeError:
                            objs.append(None)
                    n += 1
        else:
            raise GeneralDataError(
                f"{path}: use a .jsonl, .json (one object per line) or .parquet file"
            )
    except (OSError, UnicodeDecodeError, pl.exceptions.PolarsError) as e:
        raise GeneralDataError(f"{path}: cannot read general data ({e})") from e
    rows = []
    for obj in objs:
        row = to_sharegpt(obj)
        if row is None:
            stats["skipped"] += 1
            continue
        rows.append({**row, "task": GENERAL_TASK, "source": name, "user_id": "", "ref": ""})
    stats["rows"] = len(rows)
    return rows, stats


def general_name(path: Path) -> str:
    """``general_<file stem>``, letters, digits and underscores only."""
    stem = "".join(c if c.isalnum() else "_" for c in path.name.split(".")[0].lower()).strip("_")
    return f"general_{stem or 'data'}"
