"""``datasets.load_dataset`` reads ``genome/`` and ``tasks/`` by config name, from the cards'
Hugging Face YAML (one config per genome table; one per task with its train/test splits)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from humanllm.curation.card import write_card
from humanllm.executor import run_stages
from humanllm.runfolder import RunFolder
from humanllm.stage import StageContext
from tests.tasks.genome import config, genome_run, tables, write_genome

datasets = pytest.importorskip("datasets")


def front_matter(card: Path) -> dict[str, Any]:
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n"), text[:80]
    block = text.split("---\n", 2)[1]
    data: dict[str, Any] = yaml.safe_load(block)
    return data


def load(folder: Path, name: str | None, cache: Path) -> Any:
    return datasets.load_dataset(str(folder), name, cache_dir=str(cache))


def test_every_genome_table_loads_by_name(tmp_path: Path) -> None:
    dfs = tables(users_per_source=3, comments_per_user=2)
    out = write_genome(tmp_path / "genome", dfs)
    cfg = config()
    ctx = StageContext(
        cfg=cfg, run=RunFolder(tmp_path), stage="genome", console=Console(file=io.StringIO())
    )
    write_card(ctx, out, dfs, {"stages": {}, "table_a1": {}})
    meta = front_matter(out / "README.md")
    assert [c["config_name"] for c in meta["configs"]] == [
        "users",
        "records",
        "scenarios",
        "social_qa",
        "items",
        "comments",
    ]
    for name, df in dfs.items():
        ds = load(out, name, tmp_path / "hf-cache")
        assert list(ds) == ["train"], name
        assert ds["train"].num_rows == df.height, name
        assert ds["train"].column_names == df.columns, name
    users = load(out, None, tmp_path / "hf-cache")  # the default config
    assert users["train"]["user_id"] == dfs["users"]["user_id"].to_list()


def test_every_task_loads_by_name_with_its_splits(tmp_path: Path) -> None:
    cfg = config(tasks={"test_fraction": 0.34, "total_train": 40, "total_test": 20})
    genome_run(tmp_path, cfg, tables(users_per_source=4, comments_per_user=2))
    run_stages(cfg, tmp_path, ["tasks"])
    folder = tmp_path / "tasks"
    files = sorted(folder.glob("*/*.jsonl"))
    meta = front_matter(folder / "README.md")
    names = [c["config_name"] for c in meta["configs"]]
    assert names == sorted({f.parent.name for f in files}) and len(names) >= 5
    info = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))
    assert len(info) == len(files)  # LlamaFactory's registry is still beside the card
    for name in names:
        ds = load(folder, name, tmp_path / "hf-cache")
        splits = sorted(f.stem for f in files if f.parent.name == name)
        assert sorted(ds) == splits, name
        for split in splits:
            lines = (folder / name / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
            rows = [json.loads(line) for line in lines]
            assert ds[split].num_rows == len(rows), (name, split)
            assert ds[split]["conversations"] == [r["conversations"] for r in rows]
            assert set(ds[split]["task"]) == {r["task"] for r in rows}


def test_the_card_counts_rows_per_split(tmp_path: Path) -> None:
    cfg = config(tasks={"test_fraction": 0.34, "total_train": 40, "total_test": 20})
    genome_run(tmp_path, cfg, tables(users_per_source=4))
    run_stages(cfg, tmp_path, ["tasks"])
    card = (tmp_path / "tasks" / "README.md").read_text(encoding="utf-8")
    for f in (tmp_path / "tasks").glob("*/train.jsonl"):
        test = f.with_name("test.jsonl")
        n_test = sum(1 for _ in test.open()) if test.exists() else 0
        n_train = sum(1 for _ in f.open())
        assert f"| `{f.parent.name}` | {n_train:,} | {n_test:,} |" in card
