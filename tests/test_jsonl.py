"""Generic JSONL reader: field mapping, time units, compression and bad input."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import zstandard

from humanllm.sources import SourceError
from humanllm.sources.config import JsonlSource
from humanllm.sources.jsonl import read

FIELDS = {
    "record_id": "id",
    "user_id": "author.name",
    "text": "body",
    "created_at": "ts",
    "title": "subject",
}


def line(n: int, **over: Any) -> dict[str, Any]:
    row = {
        "id": n,
        "author": {"name": f"user{n % 2}", "karma": 5},
        "body": f"post number {n}",
        "ts": 1_600_000_000 + n,
        "subject": f"s{n}",
        "lang": "en",
    }
    row.update(over)
    return row


def write(path: Path, rows: list[Any]) -> Path:
    data = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def read_all(path: Path, **kw: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    kw.setdefault("fields", FIELDS)
    chunks = list(read(JsonlSource(path=str(path), **kw)))
    records = pl.concat([c.records for c in chunks]) if chunks else pl.DataFrame()
    rej = [c.rejects for c in chunks if c.rejects is not None]
    empty = pl.DataFrame(schema={"record_id": pl.String, "reason": pl.String, "detail": pl.String})
    return records, pl.concat(rej) if rej else empty


@pytest.mark.parametrize("name", ["f.jsonl", "f.jsonl.gz", "f.jsonl.zst"])
def test_mapping_and_compression(tmp_path: Path, name: str) -> None:
    records, rejects = read_all(write(tmp_path / name, [line(0), line(1)]), name="forum")
    assert rejects.height == 0
    row = records.row(1, named=True)
    assert (row["source"], row["record_id"], row["user_id"], row["text"], row["title"]) == (
        "forum",
        "1",
        "user1",
        "post number 1",
        "s1",
    )
    assert row["created_at"] == datetime(2020, 9, 13, 12, 26, 41, tzinfo=UTC)
    assert json.loads(row["meta"]) == {"author": {"name": "user1", "karma": 5}, "lang": "en"}


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [
        ("ms", 1_600_000_000_123, datetime(2020, 9, 13, 12, 26, 40, 123000, tzinfo=UTC)),
        ("s", 1_600_000_000.5, datetime(2020, 9, 13, 12, 26, 40, 500000, tzinfo=UTC)),
        ("iso", "2020-09-13T14:26:40+02:00", datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)),
        ("iso", "2020-09-13 12:26:40", datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)),
    ],
)
def test_time_units(tmp_path: Path, unit: str, value: Any, expected: datetime) -> None:
    records, _ = read_all(write(tmp_path / "t.jsonl", [line(0, ts=value)]), time_unit=unit)
    assert records["created_at"][0] == expected


def test_default_field_names_and_absent_time(tmp_path: Path) -> None:
    f = write(
        tmp_path / "t.jsonl", [{"record_id": "a", "user_id": "u", "text": "hi", "extra": [1]}]
    )
    records, _ = read_all(f, fields={})
    row = records.row(0, named=True)
    assert (
        row["created_at"] is None
        and row["title"] is None
        and json.loads(row["meta"]) == {"extra": [1]}
    )


@pytest.mark.parametrize(
    ("bad", "reason", "needle"),
    [
        ('{"id": 7, "body": "trunc', "parse.bad_json", "t.jsonl:2:"),
        ('"just a string"', "parse.not_object", "t.jsonl:2:"),
        (line(7, body=None), "parse.missing_field", "'body'"),
        (line(7, id=None), "parse.missing_field", "'id'"),
        (line(7, author={}), "parse.missing_field", "'author.name'"),
        (line(7, ts="1600000000"), "parse.bad_type", "'ts'"),
        (line(7, body=["a"]), "parse.bad_type", "'body'"),
        (line(7, subject=3), "parse.bad_type", "'subject'"),
    ],
)
def test_bad_lines_are_rejects(tmp_path: Path, bad: Any, reason: str, needle: str) -> None:
    records, rejects = read_all(write(tmp_path / "t.jsonl", [line(0), bad, line(2)]))
    assert records["record_id"].to_list() == ["0", "2"]
    assert rejects["record_id"].to_list() == ["t.jsonl:2"] and rejects["reason"].to_list() == [
        reason
    ]
    assert needle in rejects["detail"][0] and "t.jsonl:2" in rejects["detail"][0]


def test_bad_iso_time_is_a_reject(tmp_path: Path) -> None:
    _, rejects = read_all(write(tmp_path / "t.jsonl", [line(0, ts="yesterday")]), time_unit="iso")
    assert rejects["reason"].to_list() == ["parse.bad_value"]


def test_invalid_utf8_kept_and_marked(tmp_path: Path) -> None:
    f = write(tmp_path / "t.jsonl", [line(0)])
    f.write_bytes(f.read_bytes().replace(b"number", b"numb\xc3er"))
    records, rejects = read_all(f)
    assert rejects.height == 0
    assert records["text"][0] == "post numb\ufffder 0"
    assert json.loads(records["meta"][0])["_bad_utf8"] is True


def test_empty_and_blank_files(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"")
    (tmp_path / "b.jsonl").write_bytes(b"\n\n   \n")
    records, rejects = read_all(tmp_path)
    assert records.height == 0 and rejects.height == 0


def test_truncated_zstd_keeps_earlier_lines(tmp_path: Path) -> None:
    f = write(
        tmp_path / "t.jsonl.zst", [line(n, body=f"{n} " + "y" * 4000 + str(n)) for n in range(300)]
    )
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    records, rejects = read_all(f)
    assert 0 < records.height < 300
    assert records["record_id"].to_list() == [str(n) for n in range(records.height)]
    assert rejects["reason"].to_list() == ["parse.truncated_file"]
    assert "t.jsonl.zst" in rejects["detail"][0]


def test_not_gzip_at_all(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl.gz").write_bytes(b'{"id": 1}\n')
    records, rejects = read_all(tmp_path)
    assert records.height == 0
    assert rejects["reason"].to_list() == ["parse.corrupt_file"]
    assert "t.jsonl.gz" in rejects["detail"][0]


def test_crlf_bom_and_long_line(tmp_path: Path) -> None:
    big = "z" * 10_500_000
    f = tmp_path / "t.jsonl"
    f.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps(line(0)).encode()
        + b"\r\n"
        + json.dumps(line(1, body=big)).encode()
        + b"\r\n"
    )
    records, rejects = read_all(f)
    assert rejects.height == 0 and records["text"].str.len_chars().to_list() == [
        len("post number 0"),
        len(big),
    ]


def test_unknown_mapping_key_is_a_clear_error(tmp_path: Path) -> None:
    f = write(tmp_path / "t.jsonl", [line(0)])
    with pytest.raises(SourceError, match="unknown record column"):
        list(read(JsonlSource(path=str(f), fields={"body": "text"})))
