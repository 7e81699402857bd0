"""``Stage.keep_partial``: an interrupted stage keeps its folder for a re-run with the same
fingerprint; a changed config, ``--force`` or a finished run start from an empty folder."""

from pathlib import Path

import pytest

from humanllm import executor, runfolder
from humanllm.config import validate_config
from humanllm.executor import STARTED, Stage, StageContext, StageResult, run_stages

SEEN: list[list[str]] = []


class Boom(Exception):
    pass


def partial(ctx: StageContext) -> StageResult:
    folder = ctx.run.stage_dir("p")
    SEEN.append(sorted(p.name for p in folder.iterdir() if p.name != STARTED))
    (folder / f"piece-{len(SEEN)}").write_text("x", encoding="utf-8")
    if len(SEEN) == 1 or ctx.cfg.filter.min_records_per_user == 9:
        raise Boom
    return StageResult()


def cfg(n: int = 2):  # type: ignore[no-untyped-def]
    return validate_config(
        {"sources": [{"kind": "reddit", "path": "x"}], "filter": {"min_records_per_user": n}}
    )


@pytest.fixture(autouse=True)
def fake_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    SEEN.clear()
    table = {"p": Stage("p", partial, ("filter",), (), "partial stage", keep_partial=True)}
    monkeypatch.setattr(executor, "STAGES", table)
    monkeypatch.setattr(runfolder, "STAGE_FOLDERS", {})


def test_interrupted_stage_resumes_with_its_partial_outputs(tmp_path: Path) -> None:
    with pytest.raises(Boom):
        run_stages(cfg(), tmp_path)
    assert (tmp_path / "p" / STARTED).is_file()
    assert run_stages(cfg(), tmp_path) == {"p": "ran"}
    assert SEEN == [[], ["piece-1"]]  # the second run saw what the first left
    assert not (tmp_path / "p" / STARTED).exists() and (tmp_path / "p" / "_SUCCESS.json").is_file()


def test_changed_config_or_force_starts_from_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(Boom):
        run_stages(cfg(), tmp_path)
    with pytest.raises(Boom):
        run_stages(cfg(9), tmp_path)  # other fingerprint: cleared first
    assert SEEN[1] == []
    run_stages(cfg(), tmp_path, force=True)  # force: cleared too
    assert SEEN[2] == []
    run_stages(cfg(), tmp_path, force=True)  # a finished run re-run: cleared
    assert SEEN[3] == []
