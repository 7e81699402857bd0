"""A source kind added from outside the package: this module registers a toy kind (its config
model, reader, rules and their thresholds, platform name) and runs it through ``ingest`` and
``filter`` in a run folder, editing no package file. A second test adds a kind through the
config's ``plugins:`` list."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import polars as pl
import pytest
from pydantic import BaseModel, ConfigDict, Field

from humanllm.config import ConfigError, load_config, validate_config
from humanllm.executor import run_stages
from humanllm.filters import first_reason
from humanllm.filters.config import FilterConfig
from humanllm.records import RECORD_SCHEMA
from humanllm.runfolder import RunFolder
from humanllm.sources import Chunk, SourceError
from humanllm.sources.config import SourceBase
from humanllm.sources.kind import (
    SourceKind,
    get_source_kind,
    narrative_kinds,
    platform_of,
    register_source_kind,
    source_kind,
)

# --- the toy kind: a forum export, one message per line: id|user|unix time|text ----------------


class ForumSource(SourceBase):
    """A forum export: ``id|user|unix seconds|text`` lines."""

    kind: Literal["toy_forum"] = "toy_forum"
    moderators: str | None = Field(default=None, description="A file of moderator names.")


class ForumRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_words: int = Field(default=3, ge=1, description="Keep messages with this many words.")


def read_forum(cfg: ForumSource) -> Iterator[Chunk]:
    path = Path(cfg.path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    rows: list[dict[str, object]] = []
    rejects: list[dict[str, str]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("|", 3)
        if len(parts) != 4 or not parts[2].isdigit():
            rejects.append(
                {"record_id": f"{path.name}:{n}", "reason": "parse.bad_line", "detail": line}
            )
            continue
        rid, user, secs, text = parts
        rows.append(
            {
                "source": cfg.source_name,
                "record_id": rid,
                "user_id": user,
                "created_at": datetime.fromtimestamp(int(secs), UTC),
                "text": text,
                "title": "",
                "meta": json.dumps({"line": n}),
            }
        )
    reject_frame = pl.DataFrame(
        rejects, schema={"record_id": pl.String, "reason": pl.String, "detail": pl.String}
    )
    yield Chunk(records=pl.DataFrame(rows, schema=RECORD_SCHEMA), rejects=reject_frame)


def flag_forum(records: pl.LazyFrame, rules: FilterConfig, source: object) -> pl.LazyFrame:
    r = rules.group("toy_forum")
    assert isinstance(r, ForumRules)
    words = pl.col("text").fill_null("").str.split(" ").list.len()
    return records.with_columns(first_reason([("toy_forum.min_words", words < r.min_words)]))


FORUM = register_source_kind(
    SourceKind(
        name="toy_forum",
        config=ForumSource,
        read=read_forum,
        platform="forum message",
        rules=flag_forum,
        rules_config=ForumRules,
        path_fields=("path", "moderators"),
    )
)

LINES = [
    "m1|ann|1600000000|I think the new bridge is a good idea",
    "m2|ann|1600000100|me too honestly",
    "m3|ann|1600000200|ok",  # too short
    "not a message",  # parse reject
    "m4|bob|1600000300|I will vote against the bridge",  # bob's other message is short
    "m5|bob|1600000400|no",
]


def _forum_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "forum.txt"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def test_a_toy_kind_runs_through_ingest_and_filter(tmp_path: Path) -> None:
    _forum_file(tmp_path)
    config = tmp_path / "run.yaml"
    config.write_text(
        "sources:\n  - {kind: toy_forum, path: data/forum.txt, name: town}\n"
        "filter:\n  toy_forum: {min_words: 3}\n",
        encoding="utf-8",
    )
    cfg = load_config(config)
    (src,) = cfg.sources
    assert isinstance(src, ForumSource)
    assert src.path == str(tmp_path / "data" / "forum.txt")  # its path field, resolved
    run = tmp_path / "run"
    run_stages(cfg, run, ["ingest", "filter"])
    folder = RunFolder(run)
    records = folder.scan("records")
    assert records is not None
    assert sorted(records.collect()["record_id"]) == ["m1", "m2", "m3", "m4", "m5"]
    kept = folder.scan("filtered")
    assert kept is not None
    assert sorted(kept.collect()["record_id"]) == ["m1", "m2"]
    rejects = folder.scan_rejects()
    assert rejects is not None
    got = {(r["stage"], r["record_id"], r["reason"]) for r in rejects.collect().to_dicts()}
    assert got == {
        ("ingest", "forum.txt:4", "parse.bad_line"),
        ("filter", "m3", "toy_forum.min_words"),
        ("filter", "m5", "toy_forum.min_words"),
        ("filter", "m4", "all.min_records_per_user"),
    }
    assert platform_of("toy_forum") == "forum message"
    assert "toy_forum" in narrative_kinds()


def test_the_toy_kind_thresholds_and_errors_come_from_its_models(tmp_path: Path) -> None:
    path = str(_forum_file(tmp_path))
    cfg = validate_config(
        {"sources": [{"kind": "toy_forum", "path": path}], "filter": {"toy_forum": {}}}
    )
    assert cfg.filter.group("toy_forum") == ForumRules()
    loose = validate_config(
        {
            "sources": [{"kind": "toy_forum", "path": path}],
            "filter": {"toy_forum": {"min_words": 1}},
        }
    )
    run = tmp_path / "loose"
    run_stages(loose, run, ["ingest", "filter"])
    kept = RunFolder(run).scan("filtered")
    assert kept is not None and kept.collect().height == 5  # every message has a word
    with pytest.raises(ConfigError, match=r"filter\.toy_forum\.min_words"):
        validate_config(
            {
                "sources": [{"kind": "toy_forum", "path": path}],
                "filter": {"toy_forum": {"min_words": 0}},
            }
        )
    with pytest.raises(ConfigError, match=r"sources\.0\.toy_forum\.colour"):
        validate_config({"sources": [{"kind": "toy_forum", "path": path, "colour": "red"}]})
    with pytest.raises(ConfigError, match=r"unknown source kind 'myspace'.*toy_forum"):
        validate_config({"sources": [{"kind": "myspace", "path": path}]})
    with pytest.raises(ValueError, match="already registered"):
        register_source_kind(SourceKind("reddit", ForumSource, read_forum, "x", flag_forum))


PLUGIN = """
from typing import Literal

from humanllm.sources.config import SourceBase
from humanllm.sources.kind import SourceKind, register_source_kind


class DiarySource(SourceBase):
    kind: Literal["toy_diary"] = "toy_diary"


def read(cfg):
    raise NotImplementedError


register_source_kind(
    SourceKind("toy_diary", DiarySource, read, "diary entry", "humanllm.filters.generic:flag")
)
"""


def test_plugins_in_the_config_register_a_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "toy_diary_plugin.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "run.yaml"
    body = "sources:\n  - {kind: toy_diary, path: diary.txt}\n"
    config.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown source kind 'toy_diary'"):
        load_config(config)  # not imported yet: the kind is unknown
    config.write_text("plugins: [toy_diary_plugin]\n" + body, encoding="utf-8")
    cfg = load_config(config)
    assert cfg.sources[0].kind == "toy_diary" and cfg.plugins == ["toy_diary_plugin"]
    assert cfg.sources[0].path == str(tmp_path / "diary.txt")
    assert get_source_kind("toy_diary").platform == "diary entry"
    assert "toy_diary_plugin" in sys.modules
    config.write_text("plugins: [no_such_plugin_mod]\n" + body, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.yaml: plugins: cannot import module 'no_such"):
        load_config(config)


def test_source_kind_registers_the_reader_it_decorates() -> None:
    class NotesSource(SourceBase):
        kind: Literal["toy_notes"] = "toy_notes"

    @source_kind(NotesSource, platform="note", rules=flag_forum, path_fields=("path", "x"))
    def read_notes(cfg: NotesSource) -> Iterator[Chunk]:
        yield from read_forum(cfg)  # type: ignore[arg-type]

    kind = get_source_kind("toy_notes")
    assert (kind.name, kind.config, kind.read) == ("toy_notes", NotesSource, read_notes)
    assert (kind.platform, kind.rules, kind.path_fields) == ("note", flag_forum, ("path", "x"))

    class Nameless(BaseModel):
        path: str

    with pytest.raises(ValueError, match="Nameless: a source config needs kind"):
        source_kind(Nameless, platform="x", rules=flag_forum)
