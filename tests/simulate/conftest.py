"""Shared fixtures: a small genome run folder and a scripted model that answers every task."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from humanllm.llm.base import ChatRequest
from humanllm.llm.scripted import ScriptedBackend

AMAZON_USER = "AMZ1"
REDDIT_USER = "u_red"


def scripted_reply(request: ChatRequest) -> str:
    """Item selection: always candidate B; anything else: names the task and the seed."""
    system, human = request.messages[0][1], request.messages[-1][1]
    if "Candidates:" in human:
        return "B"
    task = system.split(".")[0]
    return f"simulated ({task}) seed={request.sampling.seed}"


@pytest.fixture
def scripted() -> ScriptedBackend:
    return ScriptedBackend(scripted_reply, model_id="scripted-test")


def _meta(asin: str, title: str, rating: float) -> str:
    return json.dumps({"parent_asin": asin, "item_title": title, "rating": rating})


def make_genome(root: Path) -> Path:
    """A run folder with a config and genome/{users,records}.parquet: an Amazon shopper, a
    Reddit writer, and a user id that exists in both sources."""
    (root / "genome").mkdir(parents=True)
    (root / "config.yaml").write_text(
        "sources:\n  - {kind: amazon, path: x}\n  - {kind: jsonl, name: forum, path: y, filter_as: reddit}\n"
        "tasks: {history_records: 2, history_items: 3}\n"
    )
    story = [{"summary": "Moved to Leeds", "narrative": "She moved for work in 2019."}]
    users = pl.DataFrame(
        {
            "user_id": [AMAZON_USER, REDDIT_USER, "twin", "twin"],
            "source": ["amazon", "forum", "amazon", "forum"],
            "persona": [
                "A nurse in Leeds who cooks for her two kids.",
                "A student who argues about football tactics.",
                "Twin in amazon.",
                "Twin in forum.",
            ],
            "profile": ["She works nights and plans meals on Sundays.", "", "", ""],
            "stories": [story, [], [], []],
            "writing_style": ["Short, practical sentences.", "Lowercase, lots of slang.", "", ""],
        }
    )
    users.write_parquet(root / "genome" / "users.parquet")
    t0 = datetime(2023, 1, 1, tzinfo=UTC)
    rows = []
    for i, (title, rating) in enumerate(
        [("Lunch box", 4.0), ("Rice cooker", 5.0), ("Night lamp", 3.0), ("Yoga mat", 2.0)]
    ):
        rows.append(
            {
                "source": "amazon",
                "user_id": AMAZON_USER,
                "record_id": f"a{i}",
                "created_at": t0.replace(month=i + 1),
                "text": f"Review of {title.lower()} number {i}.",
                "title": f"Headline {i}",
                "meta": _meta(f"B{i}", title, rating),
            }
        )
    for i in range(3):
        rows.append(
            {
                "source": "forum",
                "user_id": REDDIT_USER,
                "record_id": f"r{i}",
                "created_at": t0.replace(month=i + 1),
                "text": f"post body {i}",
                "title": f"post title {i}",
                "meta": "{}",
            }
        )
    pl.DataFrame(rows).write_parquet(root / "genome" / "records.parquet")
    return root


@pytest.fixture
def genome_run(tmp_path: Path) -> Path:
    return make_genome(tmp_path / "run")
