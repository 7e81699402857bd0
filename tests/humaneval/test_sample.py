"""Stratified sample, balanced assignment, and the folder ``sample`` writes."""

from __future__ import annotations

import json
from collections import Counter
from itertools import combinations
from pathlib import Path

import polars as pl
import pytest

from humanllm.humaneval.instances import Genome, GenomeMissing, shown_indices
from humanllm.humaneval.sample import (
    SampleConfig,
    SampleError,
    allocate,
    assign,
    load,
    pair_counts,
    sample,
)
from tests.humaneval.fixtures import genome_run, read_rows, sampled, with_users


def test_allocation_is_proportional_with_at_least_one_per_stratum() -> None:
    # quotas 0.1, 1.0, 8.9: floors 0 -> 1 (the floor of one), 1, 8; sum 10
    assert allocate({"a": 1, "b": 10, "c": 89}, 10) == {"a": 1, "b": 1, "c": 8}
    # quotas 4/3 each: floors 1, 1, 1; the one left goes to the largest remainder (tie: by name)
    assert allocate({"a": 5, "b": 5, "c": 5}, 4) == {"a": 1, "b": 1, "c": 2}
    # quotas 2, 6, 12 exactly
    assert allocate({"x": 10, "y": 30, "z": 60}, 20) == {"x": 2, "y": 6, "z": 12}
    # empty strata take nothing; quotas 50*2/102 = 0.98 -> 1, 50*100/102 = 49.02 -> 49
    assert allocate({"a": 0, "b": 2, "c": 100}, 50) == {"b": 1, "c": 49}


def test_allocation_edges() -> None:
    assert allocate({"a": 2, "b": 3}, 100) == {"a": 2, "b": 3}  # everything when n >= total
    with pytest.raises(SampleError, match="below the 3 non-empty strata"):
        allocate({"a": 4, "b": 4, "c": 4}, 2)
    for n in range(3, 40):
        got = allocate({"a": 7, "b": 1, "c": 31}, n)
        assert sum(got.values()) == min(n, 39) and min(got.values()) >= 1
        assert got["b"] == 1 and got["a"] <= 7


@pytest.mark.parametrize(
    ("annotators", "per_item", "n"), [(3, 2, 9), (3, 2, 10), (3, 2, 11), (4, 2, 13), (4, 3, 10)]
)
def test_assignment_balances_subsets(annotators: int, per_item: int, n: int) -> None:
    ids = [f"i{k}" for k in range(n)]
    who = [f"a{k}" for k in range(1, annotators + 1)]
    got = assign(ids, who, per_item)
    assert all(len(set(v)) == per_item == len(v) for v in got.values())  # nobody twice on one
    subsets = Counter(tuple(v) for v in got.values())
    assert len(subsets) == len(list(combinations(who, per_item)))
    assert max(subsets.values()) - min(subsets.values()) <= 1
    if per_item == 2:
        pairs = pair_counts(got)
        assert max(pairs.values()) - min(pairs.values()) <= 1


def test_sample_writes_the_folder(tmp_path: Path) -> None:
    run = genome_run(tmp_path / "run")
    folder, meta = sample(run, SampleConfig(n=120, seed=3))
    assert folder == run / "human_eval" / "n120-seed3"
    alloc = meta["allocation"]
    total = sum(r["available"] for r in alloc.values())
    assert sum(r["sampled"] for r in alloc.values()) == meta["n_instances"] == 120
    for row in alloc.values():  # proportional within rounding, at least one
        assert row["sampled"] >= 1 and abs(row["sampled"] - 120 * row["available"] / total) < 1
    kinds = {s.split(" · ")[1] for s in alloc}
    assert kinds == {"persona / profile / stories", "scenario", "social QA"}
    assert meta["pair_counts"] == {"a1+a2": 40, "a1+a3": 40, "a2+a3": 40}
    assert meta["per_annotator"] == {"a1": 80, "a2": 80, "a3": 80}
    meta2, instances = load(folder)
    assert meta2["id"] == meta["id"] and len(instances) == 120
    assignment_rows = read_rows(folder / "assignment.csv")
    assert len(assignment_rows) == 240
    for inst in instances:
        assert inst.records and inst.synthesized and len(set(inst.annotators)) == 2
        if inst.kind in ("scenario", "social_qa"):  # made from one record: the one it names
            (rec,) = inst.records
            assert rec.record_id == inst.item_id.split("-q")[0]
            assert rec.text.startswith("Text ")
        else:
            assert all(r.record_id.startswith(inst.user_id + "-") for r in inst.records)
    for a in ("a1", "a2", "a3"):
        rows = read_rows(folder / "sheets" / f"{a}.csv")
        assert {r["annotator"] for r in rows} == {a}
        assert {r["instance_id"] for r in rows} == {
            x.instance_id for x in instances if a in x.annotators
        }
        assert all(r["hallucination"] == "" and r["synthesized"] for r in rows)
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert instances[0].synthesized[0].text in page


def test_same_seed_same_sample_other_seed_another(tmp_path: Path) -> None:
    run = genome_run(tmp_path / "run")
    cfg = {"n": 40}

    def drawn(seed: int, name: str) -> list[tuple[str, str, tuple[str, ...]]]:
        _, instances = load(sampled(run, seed=seed, name=name, **cfg))
        return [(x.instance_id, x.item_id, tuple(x.annotators)) for x in instances]

    first = drawn(1, "one")
    assert first == drawn(1, "again")
    assert {i for _, i, _ in first} != {i for _, i, _ in drawn(2, "two")}


def test_portrait_shows_the_records_the_model_read(tmp_path: Path) -> None:
    run = genome_run(tmp_path / "run", users_per_source=2, records_per_user=5, sources=("reddit",))
    with_users(
        run,
        lambda df: df.with_columns(
            pl.when(pl.col("user_id") == "ru00").then(3).otherwise(5).alias("n_records_shown")
        ),
    )
    assert shown_indices(5, 3) == [0, 2, 4] and shown_indices(5, 1) == [4]
    assert shown_indices(5, None) == shown_indices(5, 9) == [0, 1, 2, 3, 4]
    _, instances = load(sampled(run, n=1000))
    portraits = {x.user_id: x for x in instances if x.kind == "portrait"}
    assert [r.record_id for r in portraits["ru00"].records] == ["ru00-r0", "ru00-r2", "ru00-r4"]
    assert len(portraits["ru01"].records) == 5
    labels = [s.label for s in portraits["ru00"].synthesized]
    assert labels == ["Persona", "Profile", "Stories", "Writing style"]
    scenarios = [x for x in instances if x.kind == "scenario"]
    assert scenarios and all(
        [s.label for s in x.synthesized] == ["Time", "Place", "Characters", "Plots"]
        for x in scenarios
    )
    assert all(":" in x.synthesized[2].text for x in scenarios)  # "name: description" lines


def test_only_non_empty_strata_and_bad_settings(tmp_path: Path) -> None:
    run = genome_run(tmp_path / "run", sources=("amazon",), users_per_source=4)
    _, meta = sample(run, SampleConfig(n=3))
    assert list(meta["allocation"]) == ["amazon · persona / profile / stories"]
    with pytest.raises(SampleError, match="exists"):
        sample(run, SampleConfig(n=3))
    sample(run, SampleConfig(n=2), force=True)
    with pytest.raises(ValueError, match="cannot exceed"):
        SampleConfig(annotators=2, per_item=3)
    with pytest.raises(ValueError, match="letters, digits"):
        SampleConfig(name="../up")
    with pytest.raises(GenomeMissing, match="no genome"):
        Genome(tmp_path / "nothing")


def test_page_is_offline_and_escapes_the_data(tmp_path: Path) -> None:
    run = genome_run(tmp_path / "run", sources=("amazon",), users_per_source=2)
    evil = "</script><script>alert(1)</script> & <b>bold</b>"
    with_users(run, lambda df: df.with_columns(pl.lit(evil).alias("persona")))
    folder = sampled(run, n=2)
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert (
        page.count("</script>") == 2
    )  # the data block and the script: the persona cannot close one
    assert "alert(1)" in page and "<script>alert" not in page
    for fetch in ("http://", "https://", "src=", "<link", "@import"):
        assert fetch not in page, fetch
    data = page.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["instances"][0]["synthesized"][0]["text"] == evil


def test_empty_genome_tables_are_a_clear_error(tmp_path: Path) -> None:
    run = genome_run(tmp_path / "run", sources=("reddit",), users_per_source=1)
    for name in ("users", "scenarios", "social_qa"):  # written empty, with their columns
        path = run / "genome" / f"{name}.parquet"
        pl.read_parquet(path).head(0).write_parquet(path)
    with pytest.raises(SampleError, match="no users, scenarios or social QA to sample from"):
        sample(run, SampleConfig(n=5))
