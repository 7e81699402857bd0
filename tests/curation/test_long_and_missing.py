"""Long records are rewritten in parts, not cut; QC items whose sources are gone are rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from humanllm.config import validate_config
from humanllm.curation.clean import part_chars, split_text
from humanllm.executor import run_stages
from humanllm.llm.scripted import ScriptedBackend
from humanllm.runfolder import RunFolder
from tests.curation.fake_model import jsonl_source, use_scripted

PARAGRAPHS = [
    f"Paragraph {i}: " + " ".join(f"I walked to the market on day {i} and bought {j} apples." for j in range(6))
    for i in range(8)
]  # fmt: skip
LONG = "\n\n".join(PARAGRAPHS)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedBackend:
    return use_scripted(monkeypatch, model_id="scripted-long")


def config(
    tmp_path: Path, posts: list[tuple[str, str]], max_input_chars: int, max_tokens: int = 1024
) -> Any:
    rows = [
        {"id": f"{u}-{i}", "author": u, "body": t, "ts": 1_600_000_000 + i}
        for i, (u, t) in enumerate(posts)
    ]
    (tmp_path / "posts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return validate_config(
        {
            "sources": [jsonl_source(tmp_path / "posts.jsonl")],
            "llm": {"runner": {"max_invalid_retries": 0}},
            "curation": {"clean": {"max_input_chars": max_input_chars, "max_tokens": max_tokens}},
        }
    )


def test_split_text_keeps_everything_within_the_limit() -> None:
    parts = split_text(LONG, 1000)
    assert len(parts) > 1 and all(len(p) <= 1000 for p in parts)
    assert "\n\n".join(parts).split() == LONG.split()  # nothing lost, nothing added
    assert all(p.startswith("Paragraph") for p in parts)  # cut between paragraphs
    one_paragraph = PARAGRAPHS[0] + " " + PARAGRAPHS[1]
    parts = split_text(one_paragraph, 200)  # no paragraph break: cut at sentence ends
    assert all(len(p) <= 200 and p.endswith(".") for p in parts)
    assert " ".join(parts).split() == one_paragraph.split()
    assert split_text("x" * 450, 200) == ["x" * 200, "x" * 200, "x" * 50]  # no spaces at all
    assert split_text("short", 200) == ["short"]


def test_a_long_record_is_rewritten_in_parts_and_joined(
    tmp_path: Path, scripted: ScriptedBackend
) -> None:
    cfg = config(tmp_path, [("u1", LONG), ("u1", "A short post about my day.")], 1000)
    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter", "clean"])
    cleaned = RunFolder(run).scan("cleaned").collect().sort("record_id")  # type: ignore[union-attr]
    text = cleaned["text"][0]
    assert text.split() == LONG.split()  # the whole record, not its first 1,000 characters
    info = RunFolder(run).success("cleaned")
    assert info is not None and info["chunked_records"] == 1
    assert info["llm"]["requests"] == len(split_text(LONG, 1000)) + 1


def test_parts_also_fit_the_reply_budget(tmp_path: Path, scripted: ScriptedBackend) -> None:
    """A record under max_input_chars but longer than a rewrite of max_tokens can hold is split
    too: otherwise its reply would be cut off (llm.truncated) and the record lost."""
    cfg = config(tmp_path, [("u1", LONG), ("u1", "A short post.")], 6000, max_tokens=300)
    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter", "clean"])
    assert part_chars(6000, 300) < 1000 < len(LONG) < 6000
    info = RunFolder(run).success("cleaned")
    assert info is not None and info["chunked_records"] == 1
    assert info["llm"]["requests"] == len(split_text(LONG, part_chars(6000, 300))) + 1
    assert RunFolder(run).scan_rejects("clean") is None


def test_a_failed_part_rejects_the_record_and_names_the_part(
    tmp_path: Path, scripted: ScriptedBackend
) -> None:
    bad = "\n\n".join([*PARAGRAPHS[:3], "GARBLE " + PARAGRAPHS[3], *PARAGRAPHS[4:]])
    cfg = config(tmp_path, [("u1", bad), ("u1", "A short post about my day.")], 1000)
    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter", "clean"])
    rejects = RunFolder(run).scan_rejects("clean").collect()  # type: ignore[union-attr]
    assert rejects["record_id"].to_list() == ["u1-0"]
    assert rejects["reason"][0] == "llm.invalid_json" and "part 2/" in rejects["detail"][0]
    assert RunFolder(run).scan("cleaned").collect().height == 1  # type: ignore[union-attr]


def test_qc_items_whose_source_records_are_gone_are_rejects(
    tmp_path: Path, scripted: ScriptedBackend
) -> None:
    posts = [("u1", "I called my sister after months."), ("u1", "We hiked the ridge on Sunday.")]
    cfg = config(tmp_path, posts, 6000)
    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter", "clean", "label", "users", "scenarios", "social_qa"])
    folder = RunFolder(run)
    (shard,) = folder.shards("labeled")
    pl.read_parquet(shard).filter(pl.col("record_id") != "u1-1").write_parquet(shard)
    run_stages(cfg, run, ["qc"])
    rejects = folder.scan_rejects("qc").collect()  # type: ignore[union-attr]
    missing = rejects.filter(pl.col("reason") == "qc.source_missing")
    assert sorted(missing["record_id"]) == ["u1-1", "u1-1-0", "u1-1-1", "u1-1-2"]
    assert all("u1-1" in d and "labeled/" in d for d in missing["detail"])
    info = folder.success("qc")
    assert info is not None and info["source_missing"] == 4
