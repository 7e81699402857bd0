"""``humanllm inspect``: one user's chain, comments included, with user text shown verbatim."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from humanllm.cli import app
from humanllm.curation.inspect import render_chain, user_chain
from humanllm.records import COMMENT_SCHEMA, RECORD_SCHEMA
from humanllm.runfolder import RunFolder

WHEN = datetime(2021, 3, 1, tzinfo=UTC)


def make_run(root: Path) -> RunFolder:
    run = RunFolder(root)
    records = [
        {"source": "reddit", "record_id": "p1", "user_id": "ann", "created_at": WHEN,
         "text": "My post about [bold] brackets and kites.", "title": "Kites", "meta": "{}"},
        {"source": "reddit", "record_id": "p2", "user_id": "bob", "created_at": WHEN,
         "text": "Bob's post.", "title": "Bob", "meta": "{}"},
    ]  # fmt: skip
    run.write_shard("records", "reddit-00000", pl.DataFrame(records, schema=RECORD_SCHEMA))
    comments = [
        {"source": "reddit", "comment_id": cid, "user_id": "ann", "created_at": WHEN, "text": text,
         "post_id": "p2", "parent_id": "p2", "meta": "{}"}
        for cid, text in (("c1", "Lovely kites, Bob."), ("c2", "[removed]"))
    ]  # fmt: skip
    run.write_shard("comments", "reddit-c", pl.DataFrame(comments, schema=COMMENT_SCHEMA))
    genome = run.stage_dir("genome")
    genome.mkdir(parents=True)
    pl.DataFrame(comments[:1], schema=COMMENT_SCHEMA).write_parquet(genome / "comments.parquet")
    rejects = pl.DataFrame({"record_id": ["c2"], "reason": ["comments.removed_or_empty"]})
    run.write_rejects("genome", "reddit", "reddit-comments", rejects)
    return run


def test_chain_shows_records_and_comments_verbatim(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    chain = user_chain(run.root, "ann")
    assert [c["comment_id"] for c in chain["comments"]] == ["c1", "c2"]
    assert [c["comment_id"] for c in chain["genome_comments"]] == ["c1"]
    console = Console(record=True, width=160)
    render_chain(chain, console)
    out = console.export_text()
    assert "My post about [bold] brackets" in out  # user text is not read as markup
    assert "[removed]" in out and "genome: comments.removed_or_empty" in out
    assert "Lovely kites, Bob." in out and "yes" in out
    with pytest.raises(KeyError, match="no records"):
        user_chain(run.root, "nobody")


def test_inspect_command(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    result = CliRunner().invoke(app, ["inspect", str(run.root), "ann"])
    assert result.exit_code == 0, result.output
    assert "comments (on other people's posts)" in result.output
    missing = CliRunner().invoke(app, ["inspect", str(run.root), "nobody"])
    assert missing.exit_code != 0 and "nobody" in missing.output
