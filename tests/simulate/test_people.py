"""Genome users as inputs, and the model flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from humanllm.llm.config import (
    LlamaCppBackendConfig,
    OpenAIBackendConfig,
    TransformersBackendConfig,
)
from humanllm.simulate.model import ModelChoiceError, choose_backend
from humanllm.simulate.people import GenomeError, GenomeUsers, UnknownUser, inputs_for
from humanllm.simulate.schemas import INPUTS
from tests.simulate.conftest import AMAZON_USER, REDDIT_USER


def test_person_and_inputs_follow_the_run_config(genome_run: Path) -> None:
    g = GenomeUsers(genome_run)
    assert len(g) == 4 and g.sources() == ["amazon", "forum"]
    assert g.history.records == 2 and g.history.items == 3 and g.history.chars == 1000
    shopper = g.person(AMAZON_USER)
    assert shopper.kind == "amazon" and shopper.platform == "Amazon product review"
    assert shopper.stories == "Moved to Leeds: She moved for work in 2019."
    assert [r.item for r in shopper.records] == [
        "Lunch box",
        "Rice cooker",
        "Night lamp",
        "Yoga mat",
    ]
    inputs = inputs_for(shopper, g.history)
    assert inputs["select"]["history"] == [
        {"item": "Rice cooker", "rating": 5.0},
        {"item": "Night lamp", "rating": 3.0},
        {"item": "Yoga mat", "rating": 2.0},
    ]
    assert inputs["select"]["persona"].startswith("A nurse") and inputs["select"]["profile"]
    assert inputs["comment"]["kind"] == "review"
    assert [h["item"] for h in inputs["comment"]["history"]] == ["Night lamp", "Yoga mat"]
    assert inputs["comment"]["history"][0]["text"] == "Headline 2\n\nReview of night lamp number 2."
    writer = g.person(REDDIT_USER)
    assert writer.kind == "reddit"  # a jsonl source filtered as reddit
    w = inputs_for(writer, g.history)["write"]
    assert w["kind"] == "Reddit post" and w["style"] == "Lowercase, lots of slang."
    assert w["samples"] == ["post title 1\n\npost body 1", "post title 2\n\npost body 2"]
    assert inputs_for(writer)["explain"] == {"persona": writer.persona, "profile": None}
    # Each application's fields from a person validate once the caller adds the rest.
    extra = {
        "profile": {},
        "explain": {"scenario": "s", "question": "q"},
        "write": {"topic": "t"},
        "comment": {"post": "p"},
        "select": {"candidates": ["a", "b"]},
        "scenario": {"characters": ["Ann"]},
    }
    for app, fields in inputs.items():
        INPUTS[app].model_validate({**fields, **extra[app]})


def test_comment_history_comes_from_the_genome_comments(genome_run: Path) -> None:
    g = GenomeUsers(genome_run)
    before = inputs_for(g.person(REDDIT_USER), g.history)["comment"]
    assert before["kind"] == "comment" and [h["item"] for h in before["history"]] == [
        "post title 1",
        "post title 2",
    ]  # no comments table: the person's own posts stand in
    t0 = datetime(2021, 5, 1, tzinfo=UTC)
    pl.DataFrame(
        {
            "source": ["forum"] * 3 + ["amazon"],
            "comment_id": ["c1", "c2", "c3", "c4"],
            "user_id": [REDDIT_USER] * 3 + [AMAZON_USER],
            "created_at": [t0 + timedelta(days=d) for d in (2, 0, 1, 0)],
            "text": ["third", "first", "second", "not theirs"],
            "post_id": ["p1", "p2", "p3", "p4"],
            "parent_id": ["p1", "p2", "p3", "p4"],
            "meta": ["{}"] * 4,
            "post_title": ["Post three", "", "Post two", "x"],
            "post_text": ["Post three. Body.", "An untitled post about kites.", "Body", "y"],
        }
    ).write_parquet(genome_run / "genome" / "comments.parquet")
    g = GenomeUsers(genome_run)
    writer = g.person(REDDIT_USER)
    assert [c.text for c in writer.comments] == ["first", "second", "third"]
    history = inputs_for(writer, g.history)["comment"]["history"]
    assert history == [  # the 2 most recent (tasks.history_records), with the post they answer
        {"item": "Post two", "text": "second", "rating": None},
        {"item": "Post three", "text": "third", "rating": None},
    ]
    assert writer.comments[0].item == "An untitled post about kites."


def test_unknown_ambiguous_and_missing(genome_run: Path, tmp_path: Path) -> None:
    g = GenomeUsers(genome_run)
    with pytest.raises(UnknownUser, match=r"no user .nobody.*sources: amazon, forum"):
        g.person("nobody")
    with pytest.raises(UnknownUser, match="in source 'forum'"):
        g.person(AMAZON_USER, "forum")
    with pytest.raises(UnknownUser, match=r"several sources.*--source"):
        g.person("twin")
    assert g.person("twin", "forum").persona == "Twin in forum."
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenomeError, match="has no genome"):
        GenomeUsers(tmp_path / "empty")
    with pytest.raises(GenomeError, match="no such run folder"):
        GenomeUsers(tmp_path / "absent")


def test_paging_and_search(genome_run: Path) -> None:
    g = GenomeUsers(genome_run)
    total, rows = g.page(0, 2)
    assert total == 4 and [(r.source, r.user_id) for r in rows] == [
        ("amazon", AMAZON_USER),
        ("amazon", "twin"),
    ]
    total, rows = g.page(2, 10)
    assert total == 4 and len(rows) == 2
    assert g.page(0, 10, source="forum")[0] == 2
    total, rows = g.page(0, 10, query="FOOTBALL")
    assert total == 1 and rows[0].user_id == REDDIT_USER


def test_model_choice(tmp_path: Path, genome_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = choose_backend(n_parallel=2)
    assert isinstance(default, LlamaCppBackendConfig) and default.model_path is None
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    cfg = choose_backend(model_path=gguf, n_parallel=3)
    assert (
        isinstance(cfg, LlamaCppBackendConfig)
        and cfg.model_path == str(gguf)
        and cfg.n_parallel == 3
    )
    hf = tmp_path / "hf"
    hf.mkdir()
    with pytest.raises(ModelChoiceError, match="HF checkpoint"):
        choose_backend(model_path=hf)
    (hf / "config.json").write_text("{}")
    assert isinstance(choose_backend(model_path=hf), TransformersBackendConfig)
    with pytest.raises(ModelChoiceError, match="not found"):
        choose_backend(model_path=tmp_path / "nothing.bin")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    oa = choose_backend(openai_url="http://127.0.0.1:9/v1", openai_model="m")
    assert isinstance(oa, OpenAIBackendConfig) and oa.api_key_env is None
    with pytest.raises(ModelChoiceError, match="go together"):
        choose_backend(openai_url="http://x/v1")
    with pytest.raises(ModelChoiceError, match="choose one model"):
        choose_backend(model_path=gguf, backend="embedded")
    # --run-dir: its merged model when there is one, a named backend of its config.
    assert isinstance(choose_backend(run_dir=genome_run, n_parallel=1), LlamaCppBackendConfig)
    (genome_run / "merged").mkdir()
    (genome_run / "merged" / "config.json").write_text("{}")
    merged = choose_backend(run_dir=genome_run)
    assert isinstance(merged, TransformersBackendConfig) and merged.model_path.endswith("merged")
    with open(genome_run / "config.yaml", "a") as f:
        f.write(
            "llm:\n  backends:\n    judge: {kind: openai, model: big, base_url: 'http://h:1/v1'}\n"
        )
    judge = choose_backend(run_dir=genome_run, backend="judge")
    assert isinstance(judge, OpenAIBackendConfig) and judge.model == "big"
    with pytest.raises(ModelChoiceError, match="it has: judge"):
        choose_backend(run_dir=genome_run, backend="nope")
    with pytest.raises(ModelChoiceError, match="give --run-dir"):
        choose_backend(backend="judge")
