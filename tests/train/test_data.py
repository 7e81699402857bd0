from __future__ import annotations

import json
from pathlib import Path

import pytest

from humanllm.train.data import (
    SFTDataError,
    count_rows,
    load_sft_dataset,
    read_sharegpt,
    task_files,
    to_example,
)
from tests.train.tiny import sharegpt_row, write_jsonl


def _bad(tmp_path: Path, row: object) -> str:
    path = write_jsonl(tmp_path / "task" / "train.jsonl", [sharegpt_row(0), row])
    with pytest.raises(SFTDataError) as e:
        list(read_sharegpt(path))
    assert str(e.value).startswith(f"{path}:2: "), e.value
    return str(e.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"system": "s"}, "missing 'conversations'"),
        ({"conversations": []}, "non-empty list"),
        ({"conversations": "hello"}, "non-empty list"),
        (
            {"conversations": [{"from": "user", "value": "a"}, {"from": "gpt", "value": "b"}]},
            "'human' or 'gpt'",
        ),
        ({"conversations": [{"from": "gpt", "value": "a"}]}, "expected a 'human' turn"),
        (
            {"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}]},
            "expected a 'gpt' turn",
        ),
        (
            {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "  "}]},
            "non-empty string",
        ),
        (
            {"conversations": [{"from": "human", "value": ""}, {"from": "gpt", "value": "b"}]},
            "non-empty string",
        ),
        (
            {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": 3}]},
            "non-empty string",
        ),
        ({"conversations": [{"from": "human", "value": "a"}]}, "last turn must be from 'gpt'"),
        (
            {
                "conversations": [
                    {"from": "human", "value": "a"},
                    {"from": "gpt", "value": "b"},
                    {"from": "human", "value": "c"},
                ]
            },
            "last turn",
        ),
        ({"conversations": ["hi"]}, "must be an object"),
        (
            {
                "system": 5,
                "conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}],
            },
            "'system' must be a string",
        ),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, row: object, message: str) -> None:
    assert message in _bad(tmp_path, row)


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(sharegpt_row(0)) + "\n\n{oops\n", encoding="utf-8")
    with pytest.raises(SFTDataError, match=rf"^{path}:3: not valid JSON"):
        list(read_sharegpt(path))


def test_empty_task_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(SFTDataError, match="empty task file"):
        list(read_sharegpt(path))
    with pytest.raises(SFTDataError, match="cannot read"):
        list(read_sharegpt(tmp_path / "missing.jsonl"))
    with pytest.raises(SFTDataError, match="no training files"):
        count_rows([])


def test_single_turn_row_becomes_prompt_and_completion() -> None:
    row = sharegpt_row(7)
    ex = to_example(row)
    assert ex.prompt == [
        {"role": "system", "content": "You imitate one user."},
        {"role": "user", "content": row["conversations"][0]["value"]},
    ]
    assert ex.completion == [{"role": "assistant", "content": row["conversations"][1]["value"]}]


def test_multi_turn_row_learns_the_last_reply_only() -> None:
    row = sharegpt_row(1, system=None, turns=2)
    ex = to_example(row)
    assert [m["role"] for m in ex.prompt] == ["user", "assistant", "user"]  # no system message
    assert ex.completion[0]["content"] == row["conversations"][3]["value"]
    assert to_example({**row, "system": "  "}).prompt[0]["role"] == "user"  # blank system dropped


def test_extra_fields_are_ignored_and_dataset_has_prompt_completion(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a" / "train.jsonl", [sharegpt_row(i) for i in range(3)])
    b = write_jsonl(tmp_path / "b" / "train.jsonl", [sharegpt_row(9, turns=2)])
    write_jsonl(tmp_path / "b" / "test.jsonl", [sharegpt_row(10)])
    assert task_files(tmp_path) == [a, b]
    assert task_files(tmp_path, "test") == [tmp_path / "b" / "test.jsonl"]
    assert count_rows([a, b]) == {str(a): 3, str(b): 1}
    ds = load_sft_dataset([a, b], tmp_path / "cache")
    assert ds.column_names == ["prompt", "completion"]
    assert len(ds) == 4
    assert ds[3]["completion"] == [
        {"role": "assistant", "content": sharegpt_row(9, turns=2)["conversations"][3]["value"]}
    ]
    # A changed file is never served from the cache.
    write_jsonl(a, [sharegpt_row(5)])
    assert len(load_sft_dataset([a, b], tmp_path / "cache")) == 2


def test_missing_task_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SFTDataError, match="run the tasks stage first"):
        task_files(tmp_path)
