"""Blogger reader (genuine corpus fixtures + synthetic bad input), month table and rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from humanllm.filters.blogger import flag
from humanllm.filters.config import FilterConfig
from humanllm.sources._ba_months import month_number
from humanllm.sources.blogger import read
from humanllm.sources.config import BloggerSource

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "blogger"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"{FIXTURES} not present")


def read_all(path: Path | str, **kw: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    chunks = list(read(BloggerSource(path=str(path), **kw)))
    records = pl.concat([c.records for c in chunks]) if chunks else pl.DataFrame()
    rejects = [c.rejects for c in chunks if c.rejects is not None]
    return records, (
        pl.concat(rejects)
        if rejects
        else pl.DataFrame(schema={"record_id": pl.String, "reason": pl.String, "detail": pl.String})
    )


def post(records: pl.DataFrame, record_id: str) -> dict[str, Any]:
    row = records.filter(pl.col("record_id") == record_id).row(0, named=True)
    row["meta"] = json.loads(row["meta"])
    return row


def blog(path: Path, pairs: list[tuple[str | None, str]], *, closed: bool = True) -> Path:
    parts = ["<Blog>\r\n\r\n"]
    for date, text in pairs:
        if date is not None:
            parts.append(f"<date>{date}</date>\r\n")
        parts.append(f"<post>\r\n\r\n      {text}\r\n\r\n" + ("</post>\r\n\r\n" if closed else ""))
    parts.append("</Blog>")
    path.write_bytes("".join(parts).encode("utf-8"))
    return path


# --- genuine fixtures ---------------------------------------------------------------------------
@needs_fixtures
@pytest.mark.parametrize(
    "name", sorted(p.name for p in FIXTURES.glob("*.xml")) if FIXTURES.is_dir() else []
)
def test_every_post_of_every_fixture_is_accounted_for(name: str) -> None:
    expected = (FIXTURES / name).read_bytes().count(b"<post>")
    records, rejects = read_all(FIXTURES / name)
    assert expected > 0
    assert records.height + rejects.height == expected
    assert records["record_id"].to_list() == [
        f"{name.split('.')[0]}-{i}" for i in range(records.height)
    ]
    assert all("\r" not in t for t in records["text"])


@needs_fixtures
def test_fixture_folder_whole() -> None:
    files = sorted(FIXTURES.glob("*.xml"))
    expected = sum(f.read_bytes().count(b"<post>") for f in files)
    records, rejects = read_all(FIXTURES)
    assert records.height + rejects.height == expected == 26
    assert rejects.height == 0
    assert records["user_id"].n_unique() == len(files)
    assert records.schema["created_at"] == pl.Datetime("us", "UTC")


@needs_fixtures
def test_cp1252_quotes_decode() -> None:
    records, _ = read_all(FIXTURES / "1350461.male.25.indUnk.Cancer.xml")
    first = post(records, "1350461-0")
    assert "Now I\u2019m sure most of you" in first["text"]
    assert "\u201cHooray! I\u2019ve always wanted" in first["text"]
    assert "\ufffd" not in first["text"]
    assert first["meta"]["encoding"] == "utf-8+cp1252"
    assert first["meta"]["industry"] is None  # indUnk


@needs_fixtures
def test_german_month_parses() -> None:
    records, _ = read_all(FIXTURES / "4059801.male.17.Student.Aquarius.xml")
    first = post(records, "4059801-0")
    assert first["created_at"] == datetime(2004, 7, 28, tzinfo=UTC)
    assert first["meta"]["date_raw"] == "28,Juli,2004"
    assert first["meta"]["date_status"] == "ok"
    assert {k: first["meta"][k] for k in ("gender", "age", "industry", "sign", "post_index")} == {
        "gender": "male",
        "age": 17,
        "industry": "Student",
        "sign": "Aquarius",
        "post_index": 0,
    }


@needs_fixtures
def test_nbsp_and_urllink_are_gone() -> None:
    records, _ = read_all(FIXTURES)
    texts = records["text"].to_list()
    assert not any("&nbsp;" in t or "\xa0" in t or "urlLink" in t for t in texts)
    assert "back from Day's. Man, was that" in post(records, "3998465-1")["text"]
    assert "on CBC Radio One last week" in post(records, "1000331-0")["text"]


@needs_fixtures
def test_chinese_text_survives() -> None:
    records, _ = read_all(FIXTURES / "3320815.female.17.Student.Libra.xml")
    assert "今天真是複雜的一天" in post(records, "3320815-1")["text"]
    # the file with invalid UTF-8 keeps its valid Chinese characters too
    mixed, _ = read_all(FIXTURES / "4069027.female.17.Student.Cancer.xml")
    assert "I enjoy chasing idols" in post(mixed, "4069027-0")["text"]


# --- lenient parsing on synthetic files --------------------------------------------------------
def test_unclosed_posts_missing_dates_and_bad_xml(tmp_path: Path) -> None:
    f = blog(
        tmp_path / "7.female.30.Arts.Leo.xml",
        [("01,May,2004", "Tom & Jerry <b>bold"), (None, "no date before me")],
    )
    f.write_bytes(
        f.read_bytes() + b"\r\n<date>02,Smarch,2004</date>\r\n<post>\r\n cut off mid-post"
    )
    records, rejects = read_all(f)
    assert records.height == 3 and rejects.height == 0
    a, b, c = (post(records, f"7-{i}") for i in range(3))
    assert a["text"] == "Tom & Jerry <b>bold" and a["meta"]["date_status"] == "ok"
    assert b["created_at"] is None and b["meta"]["date_status"] == "missing"
    assert c["created_at"] is None and c["meta"]["date_status"] == "unparsed"
    assert c["meta"]["date_raw"] == "02,Smarch,2004" and c["meta"]["unclosed_post"] is True
    assert c["text"] == "cut off mid-post"


def test_unclosed_post_stops_at_next_date(tmp_path: Path) -> None:
    f = blog(
        tmp_path / "8.male.20.Student.Aries.xml",
        [("01,Aprill,2004", "first"), ("02,M?rz,2004", "second")],
        closed=False,
    )
    records, _ = read_all(f)
    a, b = post(records, "8-0"), post(records, "8-1")
    assert a["text"] == "first" and b["text"] == "second"
    assert a["created_at"] == datetime(2004, 4, 1, tzinfo=UTC)
    assert (
        b["created_at"] == datetime(2004, 3, 2, tzinfo=UTC) and b["meta"]["date_status"] == "fuzzy"
    )


def test_not_xml_and_empty_files_are_rejects(tmp_path: Path) -> None:
    (tmp_path / "1.male.20.Student.Leo.xml").write_bytes(b"\x89PNG\r\n\x1a\n binary junk")
    (tmp_path / "2.male.20.Student.Leo.xml").write_bytes(b"")
    (tmp_path / "3.male.20.Student.Leo.xml").write_bytes(b"<Blog>\r\n</Blog>")
    records, rejects = read_all(tmp_path)
    assert records.height == 0
    got = dict(zip(rejects["record_id"], rejects["reason"], strict=True))
    assert got == {
        "1.male.20.Student.Leo.xml": "parse.not_blogger_xml",
        "2.male.20.Student.Leo.xml": "parse.not_blogger_xml",
        "3.male.20.Student.Leo.xml": "parse.no_posts",
    }
    assert all("Leo.xml" in d for d in rejects["detail"])


def test_bad_file_name_is_read_with_null_demographics(tmp_path: Path) -> None:
    f = blog(tmp_path / "notes.xml", [("01,May,2004", "hello")])
    records, _ = read_all(f)
    row = post(records, "notes-0")
    assert row["user_id"] == "notes"
    assert row["meta"]["name_ok"] is False and row["meta"]["gender"] is None


def test_ten_megabyte_post(tmp_path: Path) -> None:
    big = "I write a lot. " * 700_000
    records, _ = read_all(blog(tmp_path / "9.female.40.Arts.Leo.xml", [("01,May,2004", big)]))
    assert records["text"].str.len_chars()[0] == len(big.strip())


def test_batches_stream(tmp_path: Path) -> None:
    f = blog(tmp_path / "5.male.33.Law.Leo.xml", [("01,May,2004", f"post {i}") for i in range(7)])
    chunks = list(read(BloggerSource(path=str(f), batch_size=3)))
    assert [c.records.height for c in chunks] == [3, 3, 1]


@pytest.mark.parametrize(
    ("token", "month"),
    [
        ("May", 5),
        ("Maio", 5),
        ("Julho", 7),
        ("juillet", 7),
        ("agosto", 8),
        ("Juli", 7),
        ("toukokuu", 5),
        ("lipiec", 7),
        ("Aprill", 4),
        ("März", 3),
        ("MÃ¤rz", 3),
        ("kesäkuu", 6),
        ("décembre", 12),
        ("Septmber", 9),
        ("oktober", 10),
        ("februari", 2),
        ("Março", 3),
        ("novembro", 11),
        ("janvier", 1),
        ("giugno", 6),
    ],
)
def test_month_table(token: str, month: int) -> None:
    found = month_number(token)
    assert found is not None and found[0] == month


@pytest.mark.parametrize("token", ["Smarch", "ma", "", "2004"])
def test_month_table_unknown(token: str) -> None:
    assert month_number(token) is None


# --- rules ------------------------------------------------------------------------------------
LONG = " Plenty of filler words follow here so that the length rule passes without trouble." * 4


def run_rules(texts: list[str], **rules: object) -> list[str | None]:
    lf = pl.LazyFrame({"record_id": [str(i) for i in range(len(texts))], "text": texts})
    cfg = FilterConfig.model_validate({"blogger": rules})
    return flag(lf, cfg, None).collect()["reason"].to_list()


def test_min_chars_keeps_and_drops() -> None:
    assert run_rules(["I" + LONG, "I am short."]) == [None, "blogger.min_chars"]
    exact = "I " + "x" * 298
    assert run_rules([exact, exact[:-1]]) == [None, "blogger.min_chars"]


@pytest.mark.parametrize(
    ("opening", "kept"),
    [
        ("I", True),
        ("I'm", True),
        ("I\u2019ve", True),
        ("me", True),
        ("MY", True),
        ("Ourselves", True),
        ("we", True),
        ("mine", True),
        ("us", True),
        ("Us", True),
        ("US", False),
        ("iPod", False),
        ("myth", False),
        ("welcome", False),
        ("usual", False),
        ("They", False),
        ("i", True),
    ],
)
def test_first_person_words(opening: str, kept: bool) -> None:
    reason = run_rules([f"{opening} {LONG}"])[0]
    assert reason == (None if kept else "blogger.no_first_person")


def test_lowercase_i_switch_and_rule_off() -> None:
    text = "so today i went out." + LONG
    assert run_rules([text], lowercase_i=False) == ["blogger.no_first_person"]
    assert run_rules([text]) == [None]
    assert run_rules(["The US economy." + LONG], require_first_person=False) == [None]
