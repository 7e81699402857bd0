"""Every mix of the quick start's sources curates to the end: each stage writes its shards with one
declared schema (a column empty in one source keeps its type), a folder scans the same whatever the
order of its files, and the genome always has its four tables."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from humanllm.config import _resolve_paths, validate_config
from humanllm.curation.tables import FOLDER_SCHEMAS, LABELED_SCHEMA, USERS_SCHEMA
from humanllm.executor import run_stages
from humanllm.llm.scripted import ScriptedBackend
from humanllm.runfolder import RunFolder
from humanllm.stage import StageError
from tests.curation.fake_model import use_scripted

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
KINDS = ("reddit", "twitter", "blogger", "amazon")
STAGES = [
    "ingest", "filter", "clean", "label", "users", "scenarios", "social_qa", "qc", "genome", "tasks",
]  # fmt: skip


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedBackend:
    return use_scripted(monkeypatch, model_id="scripted-mixes")


def quickstart_with(kinds: tuple[str, ...]) -> Any:
    data = yaml.safe_load((CONFIGS / "quickstart.yaml").read_text())
    data["sources"] = [s for s in data["sources"] if s["kind"] in kinds]
    _resolve_paths(data, CONFIGS)
    return validate_config(data)


@pytest.mark.parametrize(
    "kinds",
    [(k,) for k in KINDS] + list(itertools.combinations(KINDS, 2)),
    ids=lambda ks: "+".join(ks),
)
def test_each_source_and_each_pair(
    kinds: tuple[str, ...], tmp_path: Path, scripted: ScriptedBackend
) -> None:
    run = tmp_path / "run"
    run_stages(quickstart_with(kinds), run, STAGES)
    folder = RunFolder(run)
    for name, schema in FOLDER_SCHEMAS.items():
        files = folder.shards(name)
        for f in files:  # every shard has the folder's declared schema
            assert dict(pl.read_parquet_schema(f)) == schema, f
        if len(files) > 1:  # and the folder reads the same in any file order
            forward = pl.concat([pl.read_parquet(f) for f in files])
            backward = pl.concat([pl.read_parquet(f) for f in reversed(files)])
            assert forward.sort(forward.columns[:2]).equals(backward.sort(backward.columns[:2]))
    genome = run / "genome"
    users = pl.read_parquet(genome / "users.parquet")
    assert {c: users.schema[c] for c in USERS_SCHEMA} == USERS_SCHEMA
    records = pl.read_parquet(genome / "records.parquet")
    assert {c: records.schema[c] for c in LABELED_SCHEMA} == LABELED_SCHEMA
    assert {s for s in users["source"]} == set(kinds)
    assert (run / "tasks" / "_SUCCESS.json").is_file()


def test_a_null_typed_shard_from_an_older_version_still_scans(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    typed = pl.DataFrame({"record_id": ["a"], "title": ["A title"]})
    untyped = pl.DataFrame({"record_id": ["b"], "title": [None]})  # title: Null
    assert untyped.schema["title"] == pl.Null
    folder.write_shard("cleaned", "blogger-00000", untyped)  # first in name order
    folder.write_shard("cleaned", "reddit-00000", typed)
    df = folder.scan("cleaned").collect()  # type: ignore[union-attr]
    assert df.schema["title"] == pl.String and sorted(df["record_id"]) == ["a", "b"]


def test_an_empty_curation_still_gives_a_genome_and_tasks_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model whose every reply is rejected: the genome's tables are written empty, with their
    columns; the tasks stage says there is nothing to train on instead of failing on a file."""
    use_scripted(monkeypatch, lambda r: "not json at all", model_id="scripted-useless")
    run = tmp_path / "run"
    cfg = quickstart_with(("blogger",))
    run_stages(cfg, run, STAGES[:-1])
    for name in ("users", "records", "scenarios", "social_qa"):
        df = pl.read_parquet(run / "genome" / f"{name}.parquet")
        assert df.height == 0 and "source" in df.columns and "user_id" in df.columns
    with pytest.raises(StageError, match="no training rows"):
        run_stages(cfg, run, ["tasks"])
