"""The tasks stage unit by unit: user buckets, exact hash-selected quotas, resume between buckets."""

import dataclasses
import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rich.console import Console

from humanllm.config import RunConfig
from humanllm.records import RECORD_SCHEMA
from humanllm.runfolder import RunFolder
from humanllm.stage import StageContext
from humanllm.tasks import build, parts, registry, select
from humanllm.tasks.config import TASKS
from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import BuildOptions, Built
from humanllm.tasks.sampling import bucket_of, quotas
from humanllm.tasks.stage import run_tasks
from tests.tasks.genome import config, genome_run, tables

N_RECORDS = 100  # records in the default fixture genome (30 users); bucket_records=20: 5 buckets


def make_run(root: Path, variant: str = "full", **tasks: Any) -> tuple[RunConfig, RunFolder]:
    cfg = config(tasks={"test_fraction": 0.2, "variant": variant, **tasks})
    run = genome_run(root, cfg, tables(comments_per_user=3))
    if variant == "raw":
        records = tables()["records"].select(list(RECORD_SCHEMA))
        extra = records.with_columns(  # raw users the genome does not know (all training users)
            ("x" + pl.col("user_id")).alias("user_id"),
            ("x" + pl.col("record_id")).alias("record_id"),
        )
        run.write_shard("records", "a-00000", records)
        run.write_shard("records", "b-00000", extra)
    return cfg, run


def stage(cfg: RunConfig, run: RunFolder) -> dict[str, Any]:
    ctx = StageContext(cfg=cfg, run=run, stage="tasks", console=Console(file=io.StringIO()))
    return run_tasks(ctx).extra


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("*/*.jsonl"))}


def rows(out: Path, split: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for p in sorted(out.glob(f"*/{split}.jsonl"))
        for line in p.read_text(encoding="utf-8").splitlines()
    ]


@pytest.mark.parametrize(
    "variant,totals",
    [("full", {}), ("full", {"total_train": 50, "total_test": 25}), ("raw", {"total_train": 40})],
)
def test_one_bucket_and_five_buckets_write_identical_files(
    variant: str, totals: dict[str, int], tmp_path: Path
) -> None:
    outs = []
    for n, size in ((1, 10 * N_RECORDS), (5, N_RECORDS // 5)):
        cfg, run = make_run(tmp_path / str(n), variant, bucket_records=size, **totals)
        extra = stage(cfg, run)
        rows_in = (2 if variant == "raw" else 1) * N_RECORDS  # raw: records/ has 2x the rows
        assert extra["buckets"] == math.ceil(rows_in / size) and (n == 1) == (size > rows_in)
        assert not (run.stage_dir("tasks") / "_work").exists()  # the work folder is cleaned up
        outs.append((run.stage_dir("tasks"), extra))
    (one, a), (five, b) = outs
    assert files(one) and files(one) == files(five)
    for key in ("tasks", "available", "skipped", "users", "notices"):
        assert a[key] == b[key], key
    assert (one / "dataset_info.json").read_bytes() == (five / "dataset_info.json").read_bytes()


def test_quotas_are_met_exactly_per_task_source_cell(tmp_path: Path) -> None:
    cfg, run = make_run(tmp_path / "all", bucket_records=N_RECORDS // 5)
    stage(cfg, run)
    everything = run.stage_dir("tasks")
    for total_train, total_test in ((50, 25), (97, 31), (1, 1)):
        cfg, run = make_run(
            tmp_path / f"{total_train}",
            bucket_records=N_RECORDS // 5,
            total_train=total_train,
            total_test=total_test,
        )
        stage(cfg, run)
        for split, total in (("train", total_train), ("test", total_test)):
            sizes = Counter((r["task"], r["source"]) for r in rows(everything, split))
            got = Counter((r["task"], r["source"]) for r in rows(run.stage_dir("tasks"), split))
            want = {c: k for c, k in quotas(sizes, total, cfg.tasks.seed).items() if k}
            assert dict(got) == want and sum(got.values()) == total


def test_split_is_user_disjoint_across_buckets(tmp_path: Path) -> None:
    cfg, run = make_run(tmp_path, bucket_records=7)
    extra = stage(cfg, run)
    assert extra["buckets"] == 15
    out = run.stage_dir("tasks")
    train = {(r["source"], r["user_id"]) for r in rows(out, "train")}
    test = {(r["source"], r["user_id"]) for r in rows(out, "test")}
    assert train and test and not train & test
    for source in ("reddit", "blogger", "amazon"):  # every source on both sides
        assert {s for s, _ in test} >= {source} and {s for s, _ in train} >= {source}


@pytest.mark.parametrize("totals,passes", [({}, 1), ({"total_train": 50}, 2)])
def test_builders_see_one_bucket_at_a_time(
    totals: dict[str, int], passes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, set[tuple[str, str]]]] = []

    def spy(task: str, builder: Any) -> Any:
        def run(g: Genome, o: BuildOptions) -> Built:
            users = g.user_keys()
            assert g.items.height == 40  # the item catalogue is global, every bucket has it
            seen.append((task, users))
            return builder(g, o)

        return run

    spied = tuple(dataclasses.replace(t, build=spy(t.name, t.build)) for t in registry.tasks())
    monkeypatch.setattr(select, "tasks", lambda: spied)
    cfg, run = make_run(tmp_path, bucket_records=N_RECORDS // 5, **totals)
    assert stage(cfg, run)["buckets"] == 5
    # five buckets, six builders; a counting pass first only when a total has to be met
    assert len(seen) == passes * 5 * len(TASKS)
    everyone: set[tuple[str, str]] = set()
    for _, users in seen:
        assert users and len({bucket_of(s, u, 5) for s, u in users}) == 1  # one bucket's users
        assert len(users) < 30  # never the whole genome (30 users)
        everyone |= users
    assert len(everyone) == 30


class Killed(RuntimeError):
    pass


@pytest.mark.parametrize("where", ["_count", "_write"])
def test_killed_between_buckets_resumes_to_identical_files(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, run = make_run(tmp_path / "whole", bucket_records=N_RECORDS // 5, total_train=50)
    stage(cfg, run)
    whole = files(run.stage_dir("tasks"))

    cfg, run = make_run(tmp_path / "killed", bucket_records=N_RECORDS // 5, total_train=50)
    real = getattr(build, where)
    calls: list[int] = []

    def dies_at_bucket_3(bk: Any, b: int, *rest: Any) -> Any:
        if b == 3:
            raise Killed
        calls.append(b)
        return real(bk, b, *rest)

    monkeypatch.setattr(build, where, dies_at_bucket_3)
    with pytest.raises(Killed):
        stage(cfg, run)
    assert not list(run.stage_dir("tasks").glob("*/*.jsonl"))  # no task file yet
    built: list[int] = []
    real_candidates = build._Buckets.candidates

    def counted(self: Any, b: int) -> Any:
        built.append(b)
        return real_candidates(self, b)

    monkeypatch.setattr(build, where, real)
    monkeypatch.setattr(build._Buckets, "candidates", counted)
    stage(cfg, run)
    assert files(run.stage_dir("tasks")) == whole
    # buckets 0-2 of the killed pass are not built again; everything else runs once
    again = Counter(built)
    if where == "_count":
        assert again == {0: 1, 1: 1, 2: 1, 3: 2, 4: 2}
    else:
        assert again == {3: 1, 4: 1}


def test_hash_ties_at_a_cut_are_broken_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = select.key_hash
    monkeypatch.setattr(select, "key_hash", lambda *parts: real(*parts) % 3)  # heavy collisions
    outs = []
    for size in (10 * N_RECORDS, N_RECORDS // 5):
        cfg, run = make_run(
            tmp_path / str(size), bucket_records=size, total_train=50, total_test=25
        )
        stage(cfg, run)
        out = run.stage_dir("tasks")
        assert len(rows(out, "train")) == 50 and len(rows(out, "test")) == 25
        outs.append(files(out))
    assert outs[0] == outs[1]


def test_a_changed_config_does_not_resume_old_buckets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, run = make_run(tmp_path, bucket_records=N_RECORDS // 5, total_train=50)
    real = build._write

    def dies(bk: Any, b: int, *rest: Any) -> Any:
        if b == 2:
            raise Killed
        return real(bk, b, *rest)

    monkeypatch.setattr(build, "_write", dies)
    with pytest.raises(Killed):
        stage(cfg, run)
    monkeypatch.setattr(build, "_write", real)
    cfg2, _ = make_run(tmp_path / "fresh", bucket_records=N_RECORDS // 5, total_train=30)
    stage(cfg2, run)
    fresh = run.stage_dir("tasks")
    assert len(rows(fresh, "train")) == 30
    stage(cfg2, RunFolder(tmp_path / "fresh"))
    assert files(fresh) == files(tmp_path / "fresh" / "tasks")


def test_many_parts_merge_in_rounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, run = make_run(tmp_path / "one", bucket_records=10 * N_RECORDS)  # one part per file
    stage(cfg, run)
    monkeypatch.setattr(parts, "FAN_IN", 2)  # five buckets: three rounds of merges
    cfg, narrow = make_run(tmp_path / "narrow", bucket_records=N_RECORDS // 5)
    stage(cfg, narrow)
    assert files(run.stage_dir("tasks")) == files(narrow.stage_dir("tasks"))
    assert not [p for p in narrow.stage_dir("tasks").rglob("*") if p.name.startswith(".")]
