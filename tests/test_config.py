from pathlib import Path

import pytest

from humanllm.config import ConfigError, apply_override, load_config, validate_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_sources_only_config_gets_paper_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "sources:\n  - {kind: reddit, path: data/r.parquet}\n"))
    assert cfg.filter.reddit.min_score == 2
    assert cfg.filter.reddit.min_comments == 2
    assert cfg.filter.reddit.min_chars == 300
    assert cfg.filter.twitter.min_chars == 300
    assert cfg.filter.blogger.min_chars == 300
    assert cfg.filter.amazon.min_chars == 100
    assert (cfg.filter.amazon.min_item_records, cfg.filter.amazon.min_user_records) == (3, 8)
    assert cfg.filter.min_records_per_user == 2


def test_relative_paths_resolve_against_config_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "c.yaml"
    p.write_text("sources:\n  - {kind: amazon, path: ../data/Books.jsonl, meta_path: meta.jsonl}\n")
    cfg = load_config(p)
    src = cfg.sources[0]
    assert src.path == str((tmp_path / "data" / "Books.jsonl").resolve())
    assert src.meta_path == str((tmp_path / "sub" / "meta.jsonl").resolve())  # type: ignore[union-attr]


def test_set_overrides_are_validated(tmp_path: Path) -> None:
    p = write(tmp_path, "sources:\n  - {kind: reddit, path: /abs/r.parquet}\n")
    cfg = load_config(p, ["filter.reddit.min_score=5", "sources.0.name=r1"])
    assert cfg.filter.reddit.min_score == 5
    assert cfg.sources[0].source_name == "r1"
    with pytest.raises(ConfigError, match=r"filter\.reddit\.min_score"):
        load_config(p, ["filter.reddit.min_score=lots"])
    with pytest.raises(ConfigError, match=r"filter\.reddit\.nonsense"):
        load_config(p, ["filter.reddit.nonsense=1"])
    with pytest.raises(ConfigError, match="no list item"):
        load_config(p, ["sources.3.path=x"])
    with pytest.raises(ConfigError, match=r"dotted\.key=value"):
        load_config(p, ["filter.reddit.min_score"])


def test_apply_override_creates_nested_mappings() -> None:
    data: dict = {}
    apply_override(data, "a.b.c=[1, 2]")
    assert data == {"a": {"b": {"c": [1, 2]}}}


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, "sources:\n  - kind: reddit\n    path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"cfg\.yaml:\d+"):
        load_config(p)


def test_unknown_kind_and_missing_sources_are_errors() -> None:
    with pytest.raises(ConfigError, match="sources"):
        validate_config({})
    with pytest.raises(ConfigError, match=r"sources\.0"):
        validate_config({"sources": [{"kind": "myspace", "path": "x"}]})


def test_duplicate_source_names_rejected() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        validate_config(
            {"sources": [{"kind": "reddit", "path": "a"}, {"kind": "reddit", "path": "b"}]}
        )
    cfg = validate_config(
        {
            "sources": [
                {"kind": "reddit", "path": "a"},
                {"kind": "reddit", "path": "b", "name": "reddit_b"},
            ]
        }
    )
    assert cfg.source_names() == ["reddit", "reddit_b"]


def test_section_hash_changes_only_with_its_section() -> None:
    a = validate_config({"sources": [{"kind": "reddit", "path": "a"}]})
    b = validate_config(
        {"sources": [{"kind": "reddit", "path": "a"}], "filter": {"reddit": {"min_score": 9}}}
    )
    assert a.section_hash("sources") == b.section_hash("sources")
    assert a.section_hash("sources", "filter") != b.section_hash("sources", "filter")


def test_a_stage_that_changes_a_sampling_default_keeps_its_bounds() -> None:
    from pydantic import ValidationError

    from humanllm.curation.config import LabelConfig, QCConfig, UsersConfig

    for model, bad in [
        (QCConfig, {"temperature": 5}),
        (LabelConfig, {"max_tokens": 0}),
        (UsersConfig, {"max_tokens": -1}),
    ]:
        with pytest.raises(ValidationError):
            model(**bad)
    assert (QCConfig().temperature, QCConfig().max_tokens, LabelConfig().max_tokens) == (
        0.0,
        900,
        128,
    )
