"""The dataset card ``genome/README.md``: what is in the Cognitive Genome dataset and how it was made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from humanllm.runfolder import atomic_write_text
from humanllm.stage import StageContext

TABLE_DOCS = {
    "users": "one row per user that passed QC: persona (< 100 words), profile (100-400 words), stories "
    "(list of {summary, narrative}), writing_style, n_records, qc_overall, qc_scores (JSON)",
    "records": "the user's records after rule filtering, LLM cleaning (+ PII safety net) and labelling: "
    "source, record_id, user_id, created_at, text, title, meta (JSON), quality",
    "scenarios": "one per record (not Amazon) that passed QC: scenario_id (= record_id), time, place, "
    "characters (list of {name, description}), plots, qc_overall, qc_scores",
    "social_qa": "triplets that passed QC: qa_id, record_id, scenario, question, answer, "
    "type (action | mental_state | social_reasoning), qc_overall, qc_scores",
    "items": "Amazon items referenced by the records: item_id (parent_asin), title, main_category, "
    "categories, description, features, price, store, meta",
    "comments": "Reddit comments / Twitter replies written by the users above on posts the ingest "
    "read: comment_id, user_id, created_at, text, post_id, parent_id, meta, post_title, post_text "
    "(raw text, normalised; only the PII safety net ran over it, not the clean model)",
}


class Counted(Protocol):
    """What the card reads of a table: its number of rows (a ``polars.DataFrame`` is one)."""

    @property
    def height(self) -> int: ...


@dataclass(frozen=True)
class TableRows:
    """A table written to disk, by its number of rows."""

    height: int


A1_HEADER = "| source | Raw texts | After DF texts | After DS users | scenarios | social QA | After QC users | scenarios | social QA |"


def hub_front_matter(configs: list[dict[str, Any]]) -> str:
    """The YAML block a Hugging Face dataset card starts with: one ``configs:`` entry per table or
    task, so ``datasets.load_dataset(folder, name)`` reads just those files."""
    return "---\n" + yaml.safe_dump({"configs": configs}, sort_keys=False) + "---\n"


def genome_configs(tables: list[str]) -> list[dict[str, Any]]:
    """One config per genome table (``users`` the default), its rows in a ``train`` split."""
    return [
        {
            "config_name": name,
            "data_files": [{"split": "train", "path": f"{name}.parquet"}],
            **({"default": True} if name == "users" else {}),
        }
        for name in tables
    ]


def a1_markdown(a1: dict[str, dict[str, Any]]) -> str:
    keys = (
        "raw_texts",
        "df_texts",
        "ds_users",
        "ds_scenarios",
        "ds_social_qa",
        "qc_users",
        "qc_scenarios",
        "qc_social_qa",
    )
    lines = [A1_HEADER, "|" + "---|" * 9]
    totals = dict.fromkeys(keys, 0)
    for source, row in a1.items():
        lines.append(f"| {source} | " + " | ".join(f"{row.get(k) or 0:,}" for k in keys) + " |")
        for k in keys:
            totals[k] += row.get(k) or 0
    lines.append("| **total** | " + " | ".join(f"{totals[k]:,}" for k in keys) + " |")
    return "\n".join(lines)


def write_card(
    ctx: StageContext, out: Path, tables: Mapping[str, Counted], stats: dict[str, Any]
) -> None:
    """Write ``out/README.md``; ``tables``: the tables written, by name (only their row counts are
    read, so the stage passes :class:`TableRows`)."""
    cfg = ctx.cfg
    cur = cfg.curation
    stages = stats.get("stages", {})
    backends = {name: b.model_dump(exclude_none=True) for name, b in cfg.llm.backends.items()}
    names = [name for name in TABLE_DOCS if name in tables]
    lines = [
        hub_front_matter(genome_configs(names)),
        "# Cognitive Genome dataset",
        "",
        "Built by humanllm from real user records, following HumanLLM (KDD'26) §2: rule filtering, LLM "
        "cleaning and labelling, LLM synthesis of users, scenarios and social QA, and LLM-judged quality control.",
        "",
        "## Sources",
        "",
        *[f"- `{s.source_name}`: {s.kind} from `{s.path}`" for s in cfg.sources],
        "",
        "## Tables",
        "",
        *[
            f"- `{name}.parquet` ({tables[name].height:,} rows): {TABLE_DOCS[name]}"
            for name in names
        ],
        "",
        "Join keys: `source` + `user_id` (users, records, scenarios, social_qa), `record_id` "
        "(records, scenarios, social_qa), `item_id` = `parent_asin` in a record's `meta` (items); "
        "a comment's `post_id` is the `record_id` of the post it answers.",
        "",
        "## Counts (the paper's Table A1 layout)",
        "",
        a1_markdown(stats.get("table_a1", {})),
        "",
        "DF: data filtering (rules, cleaning, labels); DS: data synthesis; QC: quality control.",
        "",
        "## How it was made",
        "",
        "| stage | backend | prompt | wall s |",
        "|---|---|---|---|",
        *[
            f"| {name} | {info.get('backend', '–')} | {info.get('prompt', '–')} | {info.get('wall_s', '–')} |"
            for name, info in stages.items()
        ],
        "",
        f"Backends: `{backends}`",
        "",
        f"Label filter keeps quality in {cur.label.keep_quality} and not harmful. QC keeps items with overall > "
        f"{cur.qc.min_overall} and every other metric > {cur.qc.min_other} (the paper: 8 and 7); every metric is "
        "scored 1-10 with higher = better (a high hallucination score means faithful; a high leakage score means "
        "the answer is not given away).",
        "",
        "## Load",
        "",
        "```python",
        "from datasets import load_dataset",
        f"# one config per table ({', '.join(names)}), each a train split",
        'users = load_dataset("genome", "users", split="train")',
        'qa = load_dataset("genome", "social_qa", split="train")',
        "# or: import polars as pl; users = pl.read_parquet('genome/users.parquet')",
        "```",
        "",
        "The texts are derived from public user posts; the cleaning stage replaced private information with "
        "fictitious data, and a deterministic safety net replaced emails, phone numbers, ID and card numbers, "
        "street addresses and URLs that the model missed. Respect the terms of each source corpus.",
        "",
    ]
    atomic_write_text("\n".join(lines), out / "README.md")
