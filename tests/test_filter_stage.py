"""The filter stage: the fused Reddit path and the staged path agree record for record."""

from pathlib import Path

import polars as pl

from humanllm.config import validate_config
from humanllm.executor import run_stages
from humanllm.runfolder import RunFolder

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "reddit"


def _run(tmp_path: Path, fused: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    cfg = validate_config(
        {
            "sources": [{"kind": "reddit", "path": str(SAMPLE)}],
            "filter": {"reddit": {"fused": fused}},
        }
    )
    run = tmp_path / ("fused" if fused else "staged")
    run_stages(cfg, run, ["ingest", "filter"])
    folder = RunFolder(run)
    kept = folder.scan("filtered").collect().sort("record_id")  # type: ignore[union-attr]
    rejects = (
        folder.scan_rejects("filter").collect().select("record_id", "reason").sort("record_id")
    )  # type: ignore[union-attr]
    return kept, rejects


def test_fused_and_staged_reddit_filters_agree(tmp_path: Path) -> None:
    kept_f, rej_f = _run(tmp_path, True)
    kept_s, rej_s = _run(tmp_path, False)
    assert kept_f.height > 0 and rej_f.height > 0
    assert kept_f.equals(kept_s)
    assert rej_f.equals(rej_s)
    reasons = set(rej_f["reason"])
    for rule in (
        "reddit.min_score",
        "reddit.min_comments",
        "reddit.min_chars",
        "reddit.bot",
        "reddit.moderator",
    ):
        assert rule in reasons, rule
