"""A small, deterministic Cognitive Genome written as the genome stage writes it (no LLM)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from humanllm.config import RunConfig, validate_config
from humanllm.executor import STAGES, fingerprint
from humanllm.runfolder import RunFolder

NARRATIVE = ("reddit", "blogger")
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def tables(
    users_per_source: int = 10,
    records_per_user: int = 3,
    reviews_per_user: int = 4,
    n_items: int = 40,
    sources: tuple[str, ...] = ("reddit", "blogger", "amazon"),
    comments_per_user: int = 0,
) -> dict[str, pl.DataFrame]:
    """The genome tables; with ``comments_per_user``, every Reddit user also commented that often
    on the next user's posts (the ``comments`` table)."""
    users: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    scenarios: list[dict[str, Any]] = []
    qas: list[dict[str, Any]] = []
    for source in sources:
        for u in range(users_per_source):
            uid = f"{source[0]}u{u:02d}"
            users.append(
                {
                    "user_id": uid,
                    "source": source,
                    "persona": f"Persona of {uid}: a calm gardener.",
                    "profile": f"Profile of {uid}: grew up by the sea, now tends a garden.",
                    "stories": [{"summary": "s", "narrative": "n"}],
                    "writing_style": f"Style of {uid}: short sentences, dry humour.",
                    "n_records": 3,
                    "n_records_shown": 3,
                    "qc_overall": 9,
                    "qc_scores": "{}",
                }
            )
            n = reviews_per_user if source == "amazon" else records_per_user
            for k in range(n):
                rid = f"{uid}-r{k}"
                if source == "amazon":
                    item = (u * 3 + k) % n_items
                    meta = {
                        "parent_asin": f"i{item:02d}",
                        "rating": 1 + (k % 5),
                        "item_title": f"Item {item:02d}",
                    }
                    title = f"Headline {k}"
                else:
                    meta = {"subreddit": "gardening"} if source == "reddit" else {}
                    title = f"Title {uid} {k}" if source == "reddit" else None
                records.append(
                    {
                        "source": source,
                        "record_id": rid,
                        "user_id": uid,
                        "created_at": T0 + timedelta(days=k, hours=u),
                        "text": f"Text {k} by {uid}: today I planted beans and the dog dug them up again.",
                        "title": title,
                        "meta": json.dumps(meta),
                        "quality": "high",
                        "harmful": False,
                    }
                )
                if source in NARRATIVE:
                    scenarios.append(
                        {
                            "scenario_id": rid,
                            "record_id": rid,
                            "user_id": uid,
                            "source": source,
                            "time": "spring",
                            "place": "garden",
                            "characters": [
                                {"name": "the author", "description": "a gardener"},
                                {"name": "the dog", "description": ""},
                            ],
                            "plots": f"Plot of {rid}. The dog dug up the beans. The author laughed.",
                            "qc_overall": 9,
                            "qc_scores": "{}",
                        }
                    )
                    for j, kind in enumerate(("action", "mental_state")):
                        qas.append(
                            {
                                "qa_id": f"{rid}-q{j}",
                                "record_id": rid,
                                "user_id": uid,
                                "source": source,
                                "scenario": f"Scenario of {rid}: the dog is in the beds.",
                                "question": f"Question {j} on {rid}?",
                                "answer": f"Answer {j} on {rid}.",
                                "type": kind,
                                "qc_overall": 9,
                                "qc_scores": "{}",
                            }
                        )
    items = [
        {
            "source": "amazon",
            "item_id": f"i{i:02d}",
            "title": f"Item {i:02d}",
            "main_category": "Garden",
            "categories": json.dumps(["Garden", "Tools"]),
            "description": f"Description of item {i}.",
            "features": "Sturdy. Green.",
            "price": 9.5 + i,
            "store": "Shop",
            "meta": "{}",
        }
        for i in range(n_items)
    ]
    out = {
        "users": pl.DataFrame(users),
        "records": pl.DataFrame(records).with_columns(pl.col("title").cast(pl.String)),
        "scenarios": pl.DataFrame(scenarios),
        "social_qa": pl.DataFrame(qas),
        "items": pl.DataFrame(items),
    }
    if comments_per_user and "reddit" in sources:
        comments = []
        for u in range(users_per_source):
            uid, other = f"ru{u:02d}", f"ru{(u + 1) % users_per_source:02d}"
            for k in range(comments_per_user):
                post = f"{other}-r{k % records_per_user}"
                comments.append(
                    {
                        "source": "reddit",
                        "comment_id": f"{uid}-c{k}",
                        "user_id": uid,
                        "created_at": T0 + timedelta(days=10 + k, hours=u),
                        "text": f"Comment {k} by {uid}: beans again, I see.",
                        "post_id": post,
                        "parent_id": post,
                        "meta": "{}",
                        "post_title": f"Title {other} {k % records_per_user}",
                        "post_text": f"Title {other} {k % records_per_user} Text about {post}.",
                    }
                )
        out["comments"] = pl.DataFrame(comments)
    if "amazon" not in sources:
        del out["items"]
    if not any(s in NARRATIVE for s in sources):
        del out["scenarios"], out["social_qa"]
    return out


def write_genome(folder: Path, dfs: dict[str, pl.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in dfs.items():
        df.write_parquet(folder / f"{name}.parquet")
    return folder


def config(
    sources: tuple[str, ...] = ("reddit", "blogger", "amazon"), **sections: Any
) -> RunConfig:
    return validate_config({"sources": [{"kind": s, "path": "x"} for s in sources], **sections})


def genome_run(root: Path, cfg: RunConfig, dfs: dict[str, pl.DataFrame] | None = None) -> RunFolder:
    """A run folder whose genome stage is finished (for ``cfg``): ready for the tasks stage."""
    run = RunFolder(root)
    write_genome(run.stage_dir("genome"), tables() if dfs is None else dfs)
    run.mark_success("genome", {"fingerprint": fingerprint(cfg, STAGES["genome"])})
    return run
