"""The curation stages end to end with a scripted model: valid, invalid, truncated and refused
replies, label drops, word limits, leakage, QC thresholds, the genome tables and a zero-request
re-run."""

import json
from pathlib import Path

import polars as pl
import pytest

from humanllm.config import validate_config
from humanllm.executor import run_stages
from humanllm.llm.scripted import ScriptedBackend
from humanllm.runfolder import RunFolder
from tests.curation.fake_model import jsonl_source, use_scripted

STAGES = ["ingest", "filter", "clean", "label", "users", "scenarios", "social_qa", "qc", "genome"]

POSTS = {
    "u1": [
        "I finally called my sister after months of silence; mail me at jess.moore@example.org if you want the story.",
        "We hiked the ridge trail on Sunday and I cried at the top, it was the first time since dad died.",
        "I cooked for my neighbours tonight and felt useful again. MEDIOCRE",
    ],
    "u2": [
        "LOWQ buy cheap watches now",
        "I told my boss I was quitting and my hands were shaking the whole time.",
    ],
    "u3": [
        "GARBLE I went out",
        "TRUNCATE a long day",
        "REFUSE a story",
        "HARMFUL a fight",
        "I planted tomatoes with my son.",
    ],
    "u4": [
        "LONGPERSONA I run every morning before work.",
        "I ran my first marathon and my knees gave up at mile 20.",
    ],
    "u5": [
        "LEAKY I saw my old friend at the summit.",
        "I wrote a letter to my grandmother in Polish.",
        "STUBBORN I hugged my friend at the top.",
    ],
}


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedBackend:
    return use_scripted(monkeypatch, model_id="scripted-curation")


@pytest.fixture
def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    lines = []
    for user, posts in POSTS.items():
        for i, post in enumerate(posts):
            lines.append(
                json.dumps(
                    {
                        "id": f"{user}-{i}",
                        "author": user,
                        "body": post,
                        "ts": 1_600_000_000 + i * 86400,
                    }
                )
            )
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n")
    return validate_config(
        {
            "sources": [jsonl_source(tmp_path / "posts.jsonl")],
            "llm": {"runner": {"max_invalid_retries": 1, "backoff_base_s": 0.01}},
            "curation": {"users": {"profile_min_words": 100}},
        }
    )


def reasons(run: Path, stage: str) -> dict[str, str]:
    df = RunFolder(run).scan_rejects(stage)
    assert df is not None, f"no rejects for {stage}"
    return dict(df.select("record_id", "reason").collect().iter_rows())


def test_curation_flow(tmp_path: Path, scripted: ScriptedBackend, config) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    run_stages(config, run, STAGES)
    folder = RunFolder(run)

    # clean: invalid, truncated and refused replies are rejected with the raw text; PII net works
    clean = reasons(run, "clean")
    assert clean["u3-0"] == "llm.invalid_json" and clean["u3-1"] == "llm.truncated"
    assert clean["u3-2"] == "llm.invalid_json"
    detail = (
        folder.scan_rejects("clean").filter(pl.col("record_id") == "u3-2").collect()["detail"][0]
    )  # type: ignore[union-attr]
    assert "can't help" in detail
    cleaned = folder.scan("cleaned").collect()  # type: ignore[union-attr]
    text_u1 = cleaned.filter(pl.col("record_id") == "u1-0")["text"][0]
    assert "jess.moore@example.org" not in text_u1 and "jane.doe@example.com" in text_u1
    info = folder.success("cleaned")
    assert info is not None and info["pii_replaced_by_safety_net"] == {"email": 1}

    # label: low quality and harmful records are dropped with the rule
    label = reasons(run, "label")
    assert label == {"u2-0": "label.quality_low", "u3-3": "label.harmful"}

    # users: a persona over the word limit is re-asked, then rejected (record_id holds the user id)
    users = reasons(run, "users")
    assert users == {"u4": "llm.validate"}
    portraits = folder.scan("users").collect()  # type: ignore[union-attr]
    assert sorted(portraits["user_id"]) == ["u1", "u2", "u3", "u5"]

    # social QA: one triplet per type; a leaking scenario is refined (u5-0), and a triplet that
    # still leaks after refining is the only reject of its record (u5-2's action triplet)
    assert reasons(run, "social_qa") == {"u5-2-0": "social_qa.answer_in_scenario"}
    qa = folder.scan("social_qa").collect()  # type: ignore[union-attr]
    assert set(qa["type"]) == {"action", "mental_state", "social_reasoning"}
    for _, part in qa.group_by("record_id"):
        assert sorted(part["type"]) == sorted(set(part["type"]))  # never two of one type
    refined = qa.filter(pl.col("qa_id") == "u5-0-0")["scenario"][0]
    assert "hug" not in refined  # the refined scenario replaced the leaking one
    assert sorted(qa.filter(pl.col("record_id") == "u5-2")["type"]) == [
        "mental_state",
        "social_reasoning",
    ]

    # qc: the MEDIOCRE record's scenario and QA fail the paper's thresholds, the rest pass
    qc = folder.scan("qc").collect()  # type: ignore[union-attr]
    failed = qc.filter(~pl.col("passed"))
    assert set(failed["item_id"]) == {
        "u1",
        "u1-2",
        "u1-2-0",
        "u1-2-1",
        "u1-2-2",
    }  # u1: its history has it
    assert all(json.loads(s)["overall"] == 6 for s in failed["scores"])

    # genome: tables join, counts match, Table A1 in stats.json and the card
    g = run / "genome"
    users_t = pl.read_parquet(g / "users.parquet")
    scen = pl.read_parquet(g / "scenarios.parquet")
    qa_t = pl.read_parquet(g / "social_qa.parquet")
    recs = pl.read_parquet(g / "records.parquet")
    assert "u1-2" not in set(scen["scenario_id"]) and scen.height == recs.height - 1
    assert (
        qa_t.height == 3 * (recs.height - 1) - 1
    )  # u1-2's three QA failed QC; u5-2's action triplet never existed
    assert set(scen["record_id"]) <= set(recs["record_id"]) and set(users_t["user_id"]) <= set(
        recs["user_id"]
    )
    stats = json.loads((g / "stats.json").read_text())
    a1 = stats["table_a1"]["forum"]
    assert a1["raw_texts"] == sum(len(p) for p in POSTS.values())
    assert a1["df_texts"] == recs.height and a1["qc_users"] == users_t.height
    assert a1["ds_social_qa"] == qa.height and a1["qc_social_qa"] == qa_t.height
    card = (g / "README.md").read_text()
    assert "Table A1" in card and "load_dataset" in card and "clean@1" in card

    # a finished run re-run sends nothing
    sent = scripted.calls
    run_stages(config, run, STAGES, force=True)
    assert scripted.calls == sent
    assert folder.success("qc")["llm"]["requests"] == 0  # type: ignore[index]
