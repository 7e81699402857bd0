import json
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from humanllm.config import ConfigError, load_config
from humanllm.executor import StageError, run_stages
from humanllm.records import RECORD_SCHEMA
from humanllm.tasks.config import TASK_GROUPS, TASKS
from humanllm.tasks.stage import DATASET_INFO
from humanllm.train.data import count_rows
from tests.tasks.genome import config, genome_run, tables

# LlamaFactory's documented dataset_info.json schema (data/README.md; src/llamafactory/data/parser.py).
LF_KEYS = {
    "hf_hub_url", "ms_hub_url", "script_url", "cloud_file_name", "file_name", "formatting",
    "ranking", "subset", "split", "folder", "num_samples", "columns", "tags",
}  # fmt: skip
LF_COLUMNS = {
    "prompt", "query", "response", "history", "messages", "system", "tools", "images",
    "videos", "chosen", "rejected", "kto_tag",
}  # fmt: skip
LF_TAGS = {
    "role_tag", "content_tag", "user_tag", "assistant_tag", "observation_tag", "function_tag",
    "system_tag",
}  # fmt: skip
LF_DEFAULT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
}


def check_llamafactory(tasks_dir: Path) -> dict[str, Any]:
    """Read dataset_info.json as LlamaFactory does and check every registered file against it."""
    info = json.loads((tasks_dir / DATASET_INFO).read_text(encoding="utf-8"))
    for name, attr in info.items():
        assert set(attr) <= LF_KEYS, name
        assert attr["formatting"] == "sharegpt"
        assert set(attr["columns"]) <= LF_COLUMNS and set(attr["tags"]) <= LF_TAGS
        tags = {**LF_DEFAULT_TAGS, **attr["tags"]}
        messages, system = attr["columns"]["messages"], attr["columns"].get("system")
        path = tasks_dir / attr["file_name"]
        assert path.is_file(), path
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert isinstance(row[system], str)
            turns = row[messages]
            for i, turn in enumerate(turns):  # user at odd positions, assistant at even (1-based)
                assert turn[tags["role_tag"]] == (
                    tags["user_tag"] if i % 2 == 0 else tags["assistant_tag"]
                )
                assert isinstance(turn[tags["content_tag"]], str)
            assert len(turns) % 2 == 0
    files = {p.relative_to(tasks_dir).as_posix() for p in tasks_dir.glob("*/*.jsonl")}
    assert files == {a["file_name"] for a in info.values()}  # every file registered, nothing else
    return info


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rows(tasks_dir: Path, split: str) -> list[dict[str, Any]]:
    return [r for f in sorted(tasks_dir.glob(f"*/{split}.jsonl")) for r in read(f)]


def run_tasks(root: Path, **tasks: Any) -> Path:
    cfg = config(tasks={"test_fraction": 0.2, **tasks})
    genome_run(root, cfg)
    run_stages(cfg, root, ["tasks"])
    return root / "tasks"


def success(tasks_dir: Path) -> dict[str, Any]:
    return json.loads((tasks_dir / "_SUCCESS.json").read_text(encoding="utf-8"))


def test_full_variant_files_dataset_info_and_counts(tmp_path: Path) -> None:
    out = run_tasks(tmp_path)
    info = check_llamafactory(out)
    assert set(info) == {f"{t}_{s}" for t in TASKS for s in ("train", "test")}
    count_rows(sorted(out.glob("*/*.jsonl")))  # the trainer accepts every file
    done = success(out)
    for task in TASKS:
        for split in ("train", "test"):
            got = Counter(r["source"] for r in read(out / task / f"{split}.jsonl"))
            assert got == done["tasks"][task][split]
    # one profile row per user, in its user's split; every source on both sides of the split
    assert done["tasks"]["profile_generation"] == done["users"]
    for source in ("amazon", "blogger", "reddit"):
        assert done["users"]["train"][source] + done["users"]["test"][source] == 10
        assert done["users"]["train"][source] >= 1 and done["users"]["test"][source] >= 1
    assert done["counts"]["amazon"]["out"] == sum(
        n["amazon"] for splits in done["tasks"].values() for n in splits.values() if "amazon" in n
    )
    assert done["skipped_tasks"] == {} and done["variant"] == "full"


def test_split_is_user_disjoint(tmp_path: Path) -> None:
    out = run_tasks(tmp_path)
    train = {(r["source"], r["user_id"]) for r in rows(out, "train")}
    test = {(r["source"], r["user_id"]) for r in rows(out, "test")}
    assert train and test and not train & test
    assert {r["task"] for r in rows(out, "test")} == set(TASKS)


def assert_water_filled(got: Counter[Any], available: Counter[Any], total: int) -> None:
    """``got`` shares ``total`` out as equal caps: a cell below the cap gives all it has."""
    assert sum(got.values()) == total and set(got) == set(available)
    assert all(got[c] <= available[c] for c in available)
    cap = min(got[c] for c in available if got[c] < available[c])
    for c in available:
        if got[c] < available[c]:
            assert got[c] in (cap, cap + 1), c
        else:
            assert available[c] <= cap + 1, c


def test_balanced_totals_cap_every_task_source_cell(tmp_path: Path) -> None:
    everything = run_tasks(tmp_path / "all")
    out = run_tasks(tmp_path / "cut", total_train=60, total_test=30)
    for split, total in (("train", 60), ("test", 30)):
        got = Counter((r["task"], r["source"]) for r in rows(out, split))
        available = Counter((r["task"], r["source"]) for r in rows(everything, split))
        assert len(available) == 12  # 6 tasks: 2 with Amazon only, 2 with narrative sources only
        assert_water_filled(got, available, total)
        kept = {json.dumps(r, sort_keys=True) for r in rows(out, split)}
        assert kept <= {json.dumps(r, sort_keys=True) for r in rows(everything, split)}


def test_seeded_and_deterministic(tmp_path: Path) -> None:
    a = run_tasks(tmp_path / "a", total_train=40)
    b = run_tasks(tmp_path / "b", total_train=40)
    c = run_tasks(tmp_path / "c", total_train=40, seed=5)
    files = sorted(p.relative_to(a) for p in a.glob("*/*.jsonl"))
    assert files == sorted(p.relative_to(b) for p in b.glob("*/*.jsonl"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in files)


@pytest.mark.parametrize("variant", ["t1", "t2"])
def test_task_group_variants_train_on_their_group_and_keep_the_test_split(
    variant: str, tmp_path: Path
) -> None:
    full = run_tasks(tmp_path / "full")
    out = run_tasks(tmp_path / variant, variant=variant)
    assert {r["task"] for r in rows(out, "train")} == set(TASK_GROUPS[variant])
    for task in TASKS:
        assert (out / task / "test.jsonl").read_bytes() == (full / task / "test.jsonl").read_bytes()
        assert (out / task / "train.jsonl").exists() == (task in TASK_GROUPS[variant])
    check_llamafactory(out)


def test_raw_variant_is_text_completion_on_the_ingested_records(tmp_path: Path) -> None:
    cfg = config(tasks={"test_fraction": 0.2, "variant": "raw"})
    run = genome_run(tmp_path, cfg)
    records = (
        tables()["records"]
        .select(list(RECORD_SCHEMA))
        .with_columns(pl.col("text") + " " + pl.col("text"))
    )
    short = records.head(1).with_columns(
        pl.lit("rx").alias("record_id"), pl.lit("too short").alias("text")
    )
    run.write_shard("records", "all-00000", pl.concat([records, short]))
    run_stages(cfg, tmp_path, ["tasks"])
    out = tmp_path / "tasks"
    train = rows(out, "train")
    assert {r["task"] for r in train} == {"text_completion"} and "rx" not in {
        r["ref"] for r in train
    }
    test_users = {(r["source"], r["user_id"]) for r in rows(out, "test")}
    assert not {(r["source"], r["user_id"]) for r in train} & test_users
    assert {r["task"] for r in rows(out, "test")} == set(TASKS)
    by_id = {r["record_id"]: r for r in records.to_dicts()}
    for r in train:
        src = by_id[r["ref"]]
        whole = f"{src['title']}\n\n{src['text']}" if src["title"] else src["text"]
        prefix = r["conversations"][0]["value"].split("\n\n", 1)[1]
        reply = r["conversations"][1]["value"]
        assert f"{prefix} {reply}" == whole
        assert 0.2 * len(whole) <= len(prefix) <= 0.8 * len(whole) + 1
    check_llamafactory(out)


def test_raw_variant_without_records_is_a_clear_error(tmp_path: Path) -> None:
    cfg = config(tasks={"variant": "raw"})
    genome_run(tmp_path, cfg)
    with pytest.raises(StageError, match="run the ingest stage"):
        run_stages(cfg, tmp_path, ["tasks"])


def _general(path: Path, n: int) -> Path:
    shapes = [
        lambda i: {
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i}"},
            ]
        },
        lambda i: {"system_prompt": "Be kind.", "question": f"q{i}", "response": f"a{i}"},
        lambda i: {
            "conversations": [
                {"from": "human", "value": f"q{i}"},
                {"from": "gpt", "value": f"a{i}"},
            ]
        },
        lambda i: {"instruction": f"q{i}", "input": "", "output": f"a{i}"},
    ]
    lines = [json.dumps(shapes[i % 4](i)) for i in range(n)]
    path.write_text("\n".join(lines) + '\n{"tools": []}\n', encoding="utf-8")
    return path


def test_gen_mix_variant_mixes_a_quarter_of_each_general_file(tmp_path: Path) -> None:
    smol = _general(tmp_path / "smoltalk.jsonl", 500)
    orca = pl.DataFrame(
        {
            "system_prompt": ["S"] * 300,
            "question": [f"q{i}" for i in range(300)],
            "response": ["a"] * 300,
        }
    )
    orca.write_parquet(tmp_path / "orca.parquet")
    out = run_tasks(
        tmp_path / "run",
        variant="gen-mix",
        general_data=[str(smol), str(tmp_path / "orca.parquet")],
    )
    train = rows(out, "train")
    ours = [r for r in train if r["task"] != "general"]
    per_file = Counter(r["source"] for r in train if r["task"] == "general")
    assert set(per_file) == {"general_smoltalk", "general_orca"}
    assert abs(per_file["general_smoltalk"] - len(ours) / 2) <= 1
    assert abs(per_file["general_orca"] - len(ours) / 2) <= 1
    assert {r["task"] for r in rows(out, "test")} == set(TASKS)
    info = check_llamafactory(out)
    assert {"general_smoltalk_train", "general_orca_train"} <= set(info)
    count_rows(sorted(out.glob("*/train.jsonl")))


def test_gen_mix_needs_its_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="gen-mix needs general_data"):
        load_config_text(tmp_path, "tasks: {variant: gen-mix}\n")
    with pytest.raises(ConfigError, match="gen-mix only"):
        load_config_text(tmp_path, "tasks: {general_data: [a.jsonl]}\n")
    cfg = load_config_text(tmp_path, "tasks: {variant: gen-mix, general_data: [data/smol.jsonl]}\n")
    assert cfg.tasks.general_data == [str(tmp_path / "data" / "smol.jsonl")]  # next to the config
    genome_run(tmp_path / "run", cfg)
    with pytest.raises(StageError, match=r"smol\.jsonl: general data file not found"):
        run_stages(cfg, tmp_path / "run", ["tasks"])


def load_config_text(folder: Path, text: str) -> Any:
    path = folder / "run.yaml"
    path.write_text("sources: [{kind: reddit, path: x}]\n" + text, encoding="utf-8")
    return load_config(path)


def test_tasks_without_rows_are_skipped_with_a_notice(tmp_path: Path) -> None:
    cfg = config(("reddit",), tasks={"test_fraction": 0.2})
    genome_run(tmp_path, cfg, tables(sources=("reddit",)))
    run_stages(cfg, tmp_path, ["tasks"])
    done = success(tmp_path / "tasks")
    assert set(done["skipped_tasks"]) == {"personalized_commenting", "item_selection"}
    assert any(n.startswith("item_selection: no rows") for n in done["notices"])
    assert not (tmp_path / "tasks" / "item_selection").exists()
    assert set(check_llamafactory(tmp_path / "tasks")) == {
        f"{t}_{s}" for t in TASKS[:4] for s in ("train", "test")
    }


def test_bad_genome_is_a_stage_error(tmp_path: Path) -> None:
    cfg = config()
    run = genome_run(tmp_path, cfg)
    (run.stage_dir("genome") / "records.parquet").unlink()
    with pytest.raises(StageError, match=r"records\.parquet: missing"):
        run_stages(cfg, tmp_path, ["tasks"])
    empty = {name: df.clear() for name, df in tables().items()}
    genome_run(tmp_path / "empty", cfg, empty)
    with pytest.raises(StageError, match="no training rows"):
        run_stages(cfg, tmp_path / "empty", ["tasks"])
