"""The curation flow with the real embedded model (llama.cpp, SmolLM2-135M) on a few records:
every reply that came out is schema-valid, and every record, user and item is accounted for
(in the next table or in rejects/)."""

import json
from pathlib import Path

import polars as pl
import pytest

from humanllm.config import validate_config
from humanllm.curation.metrics import METRICS
from humanllm.curation.schemas import QA, QA_TYPES, Scenario, UserPortrait
from humanllm.executor import run_stages
from humanllm.runfolder import RunFolder

# the embedded model on a loaded 2-core machine: the suite-wide 600 s hang guard is too tight
pytestmark = [pytest.mark.llamacpp, pytest.mark.timeout(1800)]
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "blogger"
STAGES = ["ingest", "filter", "clean", "label", "users", "scenarios", "social_qa", "qc", "genome"]


def test_embedded_model_curates_a_few_records(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    cfg = validate_config(
        {
            "sources": [{"kind": "blogger", "path": str(SAMPLE)}],
            "llm": {"runner": {"max_invalid_retries": 1}},
            "curation": {
                "max_users_per_source": 1,
                "max_records_per_user": 2,
                "clean": {"max_tokens": 300, "temperature": 0.2, "frequency_penalty": 0.5},
                "label": {
                    "max_tokens": 80,
                    "keep_quality": ["high", "medium", "low"],
                    "drop_harmful": False,
                },
                "users": {"max_tokens": 400, "profile_min_words": 5, "frequency_penalty": 0.7},
                "scenarios": {"max_tokens": 300, "frequency_penalty": 0.7},
                "social_qa": {"max_tokens": 400, "frequency_penalty": 0.7},
                "qc": {"max_tokens": 300, "min_overall": 0, "min_other": 0},
            },
        }
    )
    run = tmp_path / "run"
    run_stages(cfg, run, STAGES)
    folder = RunFolder(run)

    def n(stage_folder: str) -> int:
        lf = folder.scan(stage_folder)
        return 0 if lf is None else lf.collect().height

    def rejected(stage: str) -> int:
        lf = folder.scan_rejects(stage)
        return 0 if lf is None else lf.collect().height

    assert n("cleaned") + rejected("clean") == 2
    assert n("labeled") + rejected("label") == n("cleaned")
    for name, model in (("users", UserPortrait), ("scenarios", Scenario)):
        lf = folder.scan(name)
        for row in [] if lf is None else lf.collect().to_dicts():
            if name == "users":
                model.model_validate(
                    {k: row[k] for k in ("persona", "profile", "stories", "writing_style")}
                )
            else:
                model.model_validate(
                    {
                        "background": {"time": row["time"], "place": row["place"]},
                        "characters": row["characters"],
                        "plots": row["plots"],
                    }
                )
    qa = folder.scan("social_qa")
    for row in [] if qa is None else qa.collect().to_dicts():
        QA.model_validate({k: row[k] for k in ("scenario", "question", "answer")})
        assert row["type"] in QA_TYPES
    qc = folder.scan("qc")
    judged = 0 if qc is None else qc.collect().height
    assert judged + rejected("qc") == n("users") + n("scenarios") + n("social_qa")
    if qc is not None:
        for row in qc.collect().to_dicts():
            scores = json.loads(row["scores"])
            assert set(scores) == set(METRICS[row["kind"]]) and all(
                1 <= v <= 10 for v in scores.values()
            )
    stats = json.loads((run / "genome" / "stats.json").read_text())
    assert (
        stats["table_a1"]["blogger"]["raw_texts"]
        == pl.read_parquet(folder.shards("records")).height
    )
    assert (run / "genome" / "README.md").is_file()
