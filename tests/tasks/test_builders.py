import json
import random
from pathlib import Path

import polars as pl
import pytest

from humanllm.tasks import prompts as P
from humanllm.tasks.builders import BUILDERS, draw_negatives
from humanllm.tasks.config import TASKS
from humanllm.tasks.inputs import Genome, GenomeError, load_genome
from humanllm.tasks.rows import BuildOptions
from humanllm.train.data import read_sharegpt
from tests.tasks.genome import tables, write_genome


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> Genome:
    return load_genome(write_genome(tmp_path_factory.mktemp("g") / "genome", tables()))


OPTS = BuildOptions(seed=7)


def test_builder_table_is_the_six_tasks_in_order() -> None:
    assert tuple(BUILDERS) == TASKS


@pytest.mark.parametrize("task", TASKS)
def test_rows_have_the_documented_shape(task: str, genome: Genome, tmp_path: Path) -> None:
    rows = BUILDERS[task](genome, OPTS).rows
    assert rows
    for r in rows:
        assert set(r) >= {"system", "conversations", "task", "source", "user_id", "ref"}
        assert r["task"] == task and isinstance(r["system"], str) and r["system"]
        turns = r["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"]
        assert all(isinstance(t["value"], str) and t["value"].strip() for t in turns)
    path = tmp_path / "rows.jsonl"  # the trainer's own reader accepts every row
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert len(list(read_sharegpt(path))) == len(rows)


def _by_ref(task: str, genome: Genome) -> dict[str, dict]:
    return {r["ref"]: r for r in BUILDERS[task](genome, OPTS).rows}


def test_t1_replies_are_the_genome_fields(genome: Genome) -> None:
    prof = _by_ref("profile_generation", genome)["bu03"]
    assert (
        prof["conversations"][1]["value"]
        == "Profile of bu03: grew up by the sea, now tends a garden."
    )
    assert "Persona of bu03" in prof["conversations"][0]["value"]
    scen = _by_ref("scenario_generation", genome)["ru01-r2"]
    assert scen["conversations"][1]["value"].startswith("Plot of ru01-r2.")
    assert "- the author: a gardener" in scen["conversations"][0]["value"]
    qas = BUILDERS["social_qa"](genome, OPTS).rows
    assert {r["qa_type"] for r in qas} == {"action", "mental_state"}
    kinds = set()
    for r in qas:
        human = r["conversations"][0]["value"]
        assert r["conversations"][1]["value"] == f"Answer {r['ref'][-1]} on {r['ref'][:-3]}."
        has_persona, has_profile = (
            "Persona of the person" in human,
            "Profile of the person" in human,
        )
        assert has_persona != has_profile  # persona OR profile
        kinds.add(has_persona)
    assert kinds == {True, False}


def test_writing_imitation_topics_and_contexts(genome: Genome) -> None:
    rows = _by_ref("writing_imitation", genome)
    reddit, blog, review = rows["ru02-r1"], rows["bu02-r1"], rows["au02-r1"]
    assert "on this topic: Title ru02 1" in reddit["conversations"][0]["value"]
    assert reddit["conversations"][1]["value"].startswith("Text 1 by ru02")  # body, title given
    assert "on this topic: Plot of bu02-r1." in blog["conversations"][0]["value"]
    assert 'a review of the item "Item 07" (rated 2/5)' in review["conversations"][0]["value"]
    assert review["conversations"][1]["value"].startswith("Headline 1\n\nText 1 by au02")
    humans = [r["conversations"][0]["value"] for r in rows.values()]
    assert any("Texts this person wrote earlier" in h for h in humans)
    assert any("How this person writes" in h for h in humans)
    first = rows["ru00-r0"]["conversations"][0]["value"]  # no earlier record: the style
    assert "How this person writes" in first and "wrote earlier" not in first


def test_commenting_is_amazon_only_with_earlier_reviews(genome: Genome) -> None:
    built = BUILDERS["personalized_commenting"](genome, OPTS)
    assert {r["source"] for r in built.rows} == {"amazon"}
    assert built.skipped["first review of the user (no history)"] == 10
    row = next(r for r in built.rows if r["ref"] == "au01-r3")
    human = row["conversations"][0]["value"]
    assert "[1] On: Item 03" in human and "[3] On: Item 05" in human  # the 3 earlier, oldest first
    assert "Title: Item 06\nCategory: Garden\nPrice: $15.50" in human
    assert (
        row["conversations"][1]["value"]
        == "Headline 3\n\nText 3 by au01: today I planted beans and the dog dug them up again."
    )


def test_commenting_on_reddit_uses_the_comments_table(tmp_path: Path) -> None:
    g = load_genome(write_genome(tmp_path / "genome", tables(comments_per_user=3)))
    built = BUILDERS["personalized_commenting"](g, OPTS)
    reddit = [r for r in built.rows if r["source"] == "reddit"]
    assert len(reddit) == 10 * 2  # each user's 2nd and 3rd comment; the 1st has no history
    assert built.skipped["first comment of the user (no history)"] == 10
    row = next(r for r in reddit if r["ref"] == "ru03-c2")
    assert row["user_id"] == "ru03" and row["task"] == "personalized_commenting"
    human = row["conversations"][0]["value"]
    assert "Comments this person wrote earlier, oldest first" in human
    assert "[1] On: Title ru04 0\nComment 0 by ru03" in human
    assert "[2] On: Title ru04 1\nComment 1 by ru03" in human
    # the new post: its title, then its text without the title it starts with
    assert "The new post:\nTitle: Title ru04 2\nText about ru04-r2." in human
    assert row["conversations"][1]["value"] == "Comment 2 by ru03: beans again, I see."
    assert {r["source"] for r in built.rows} == {"reddit", "amazon"}  # Amazon reviews as before
    again = BUILDERS["personalized_commenting"](load_genome(tmp_path / "genome"), OPTS)
    assert again.rows == built.rows


def test_genome_without_comments_reads_an_empty_table(genome: Genome) -> None:
    assert genome.comments.height == 0
    assert genome.comments.schema["created_at"] == pl.Datetime("us", "UTC")


def test_item_selection_candidates(genome: Genome) -> None:
    records = genome.records.filter(pl.col("source") == "amazon")
    owned: dict[str, set[str]] = {}
    for r in records.to_dicts():
        owned.setdefault(r["user_id"], set()).add(json.loads(r["meta"])["parent_asin"])
    rows = BUILDERS["item_selection"](genome, OPTS).rows
    assert len(rows) == 10 * 3
    positions = set()
    for r in rows:
        target = json.loads(records.filter(pl.col("record_id") == r["ref"])["meta"][0])[
            "parent_asin"
        ]
        cands = r["candidates"]
        assert len(cands) == 20 and len(set(cands)) == 20
        assert cands.count(target) == 1
        assert not (set(cands) - {target}) & owned[r["user_id"]]  # no item of the user's history
        pos = cands.index(target)
        positions.add(pos)
        reply = r["conversations"][1]["value"]
        assert reply == P.item_choice(pos, f"Item {target[1:]}")
        assert P.parse_choice(reply, 20) == pos
        assert f"\n{reply}\n" in r["conversations"][0]["value"] + "\n"
    assert len(positions) > 5  # the true item is not always in the same place


def test_item_selection_with_a_small_pool(tmp_path: Path) -> None:
    g = load_genome(write_genome(tmp_path / "g", tables(users_per_source=2, n_items=8)))
    rows = BUILDERS["item_selection"](g, OPTS).rows
    assert rows and all(len(r["candidates"]) < 20 for r in rows)
    assert all(len(set(r["candidates"])) == len(r["candidates"]) for r in rows)
    opts = BuildOptions(seed=7, n_candidates=5)
    assert all(len(r["candidates"]) == 5 for r in BUILDERS["item_selection"](g, opts).rows)


def test_draw_negatives_large_and_small_pools() -> None:
    pool = [(f"i{i}", f"T{i}") for i in range(1000)]
    got = draw_negatives(pool, {"i1", "i2"}, {"t3"}, 19, random.Random(0))
    assert len(got) == 19 and len({g[0] for g in got}) == 19
    assert not {g[0] for g in got} & {"i1", "i2", "i3"}
    small = draw_negatives(pool[:5], {"i0"}, set(), 19, random.Random(0))
    assert sorted(small) == pool[1:5]
    assert draw_negatives([("i0", "Same"), ("i1", "same ")], set(), set(), 5, random.Random(0)) in (
        [("i0", "Same")],
        [("i1", "same ")],
    )


def test_builders_are_deterministic_and_seeded(genome: Genome) -> None:
    for task in TASKS:
        assert BUILDERS[task](genome, OPTS).rows == BUILDERS[task](genome, OPTS).rows
    other = BuildOptions(seed=8)
    assert (
        BUILDERS["item_selection"](genome, OPTS).rows
        != BUILDERS["item_selection"](genome, other).rows
    )


def test_empty_tables_give_no_rows(tmp_path: Path) -> None:
    g = load_genome(write_genome(tmp_path / "g", tables(sources=("reddit",))))
    assert g.items.height == 0
    for task in ("personalized_commenting", "item_selection"):
        assert BUILDERS[task](g, OPTS).rows == []
    g = load_genome(write_genome(tmp_path / "a", tables(sources=("amazon",))))
    assert g.scenarios.height == 0 and g.social_qa.height == 0
    for task in ("scenario_generation", "social_qa"):
        assert BUILDERS[task](g, OPTS).rows == []


def test_malformed_genome_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GenomeError, match="no genome folder"):
        load_genome(tmp_path / "nowhere")
    dfs = tables()
    folder = write_genome(tmp_path / "g", {k: v for k, v in dfs.items() if k != "users"})
    with pytest.raises(GenomeError, match=r"users\.parquet: missing; run the genome stage"):
        load_genome(folder)
    dfs["social_qa"] = dfs["social_qa"].drop("question")
    folder = write_genome(tmp_path / "h", dfs)
    with pytest.raises(GenomeError, match=r"social_qa\.parquet: missing column\(s\) question"):
        load_genome(folder)
    (folder / "social_qa.parquet").write_text("not parquet", encoding="utf-8")
    with pytest.raises(GenomeError, match="not a readable Parquet file"):
        load_genome(folder)
