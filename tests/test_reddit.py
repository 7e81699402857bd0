"""Reddit reader (REDDIT_submissions parquet, Pushshift JSONL) and rule filters."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from humanllm.config import validate_config
from humanllm.executor import run_stages
from humanllm.filters import reddit as rules
from humanllm.filters.config import FilterConfig
from humanllm.records import RECORD_SCHEMA, normalize_expr, normalize_text
from humanllm.sources import SourceError, reddit
from humanllm.sources._rt_parse import normalize, with_meta_fields
from humanllm.sources.config import RedditSource

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "reddit"
BODY = "I finally talked to my sister about the move and it went better than I feared. " * 5


def post(**over: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "id": "p1", "author": "real_person", "subreddit": "CasualConversation", "title": "A title",
        "selftext": BODY, "created_utc": "1600000000", "score": "10", "num_comments": "5",
        "distinguished": None, "over_18": "False", "stickied": "False", "removed_by_category": None,
    }  # fmt: skip
    row.update(over)
    return row


def write_parquet(path: Path, rows: list[dict[str, str | None]]) -> Path:
    """All-string parquet, the REDDIT_submissions layout."""
    cols = list(rows[0])
    pq.write_table(
        pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in cols}), path
    )
    return path


def read_all(path: Path, batch_size: int = 50_000) -> tuple[pl.DataFrame, pl.DataFrame]:
    chunks = list(reddit.read(RedditSource(path=str(path), batch_size=batch_size)))
    records = (
        pl.concat([c.records for c in chunks]) if chunks else pl.DataFrame(schema=RECORD_SCHEMA)
    )
    rejects = [c.rejects for c in chunks if c.rejects is not None]
    return records, pl.concat(rejects) if rejects else pl.DataFrame()


def meta(records: pl.DataFrame, i: int = 0) -> dict:
    return json.loads(records["meta"][i])


# --- reader: parquet ---------------------------------------------------------------------------


def test_all_string_parquet_is_typed_and_normalised(tmp_path: Path) -> None:
    rows = [
        post(id="a", title="Tom &amp; Jerry", selftext="Line one.\n\n&#x200B;\n\nLine   two.", created_utc="1.6e9",
             score="12", num_comments="3.0", over_18="True"),
        post(id="b", selftext="", created_utc="1600000001.0"),
        post(id="c", selftext="[removed]", removed_by_category="moderator"),
        post(id="d", selftext="[deleted]"),
    ]  # fmt: skip
    records, rejects = read_all(write_parquet(tmp_path / "r.parquet", rows))
    assert rejects.height == 0
    assert records.columns == list(RECORD_SCHEMA)
    a = records.row(0, named=True)
    assert a["text"] == "Tom & Jerry Line one. Line two."
    assert a["title"] == "Tom & Jerry"
    assert a["created_at"] == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    assert meta(records, 0)["score"] == 12 and meta(records, 0)["num_comments"] == 3
    assert meta(records, 0)["over_18"] is True and meta(records, 0)["selftext_state"] == "text"
    assert records["text"][1] == "A title" and meta(records, 1)["selftext_state"] == "empty"
    assert records["created_at"][1] == datetime(2020, 9, 13, 12, 26, 41, tzinfo=UTC)
    assert [meta(records, i)["selftext_state"] for i in (2, 3)] == ["removed", "deleted"]
    assert records["text"][2] == "A title"  # "[removed]" is not a body
    assert meta(records, 2)["removed_by_category"] == "moderator"


def test_files_differ_in_column_order_and_set(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    write_parquet(folder / "a.parquet", [post(id="a", url="https://x.test/a")])
    b = {
        k: v
        for k, v in reversed(post(id="b").items())
        if k not in ("subreddit", "distinguished", "over_18")
    }
    write_parquet(folder / "b.parquet", [b])
    records, _ = read_all(folder)
    assert records["record_id"].to_list() == ["a", "b"]
    assert meta(records, 0)["url"] == "https://x.test/a"
    assert meta(records, 1)["subreddit"] is None and meta(records, 1)["over_18"] is None
    assert records["text"][0] == records["text"][1]


def test_stringified_nulls_are_nulls(tmp_path: Path) -> None:
    records, _ = read_all(
        write_parquet(
            tmp_path / "r.parquet", [post(distinguished="None", removed_by_category="nan")]
        )
    )
    assert meta(records)["distinguished"] is None and meta(records)["removed_by_category"] is None


def test_native_dtypes_are_read_too(tmp_path: Path) -> None:
    table = pa.table(
        {"id": ["x1"], "author": ["a"], "title": ["t"], "selftext": [BODY], "created_utc": pa.array([1600000000], pa.int64()),
         "score": pa.array([7.0]), "num_comments": pa.array([4], pa.int32()), "over_18": pa.array([False])}
    )  # fmt: skip
    pq.write_table(table, tmp_path / "n.parquet")
    records, rejects = read_all(tmp_path / "n.parquet")
    assert rejects.height == 0
    assert records["created_at"][0] == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    assert (meta(records)["score"], meta(records)["num_comments"], meta(records)["over_18"]) == (
        7,
        4,
        False,
    )


def test_unparseable_required_values_are_rejects_naming_file_and_row(tmp_path: Path) -> None:
    rows = [post(id="ok"), post(id="t", created_utc="yesterday"), post(id="s", score="lots"), post(id=""),
            post(id="u", author=None), post(id="n", num_comments="many")]  # fmt: skip
    path = write_parquet(tmp_path / "bad.parquet", rows)
    records, rejects = read_all(path, batch_size=2)  # rows span batches: row numbers stay file-wide
    assert records["record_id"].to_list() == ["ok"]
    got = {r["record_id"]: (r["reason"], r["detail"]) for r in rejects.iter_rows(named=True)}
    assert got["t"] == ("parse.bad_time", f"{path}:row 2: created_utc is not a unix time")
    assert got["s"] == ("parse.bad_number", f"{path}:row 3: score is not a number")
    assert got["bad.parquet:row 4"] == ("parse.missing_field", f"{path}:row 4: id is missing")
    assert got["u"][0] == "parse.missing_field" and "author" in got["u"][1]
    assert got["n"] == ("parse.bad_number", f"{path}:row 6: num_comments is not a number")


def test_missing_required_column_is_a_source_error(tmp_path: Path) -> None:
    row = {k: v for k, v in post().items() if k != "created_utc"}
    path = write_parquet(tmp_path / "nocol.parquet", [row])
    with pytest.raises(
        SourceError, match=r"nocol\.parquet: missing required column\(s\) created_utc"
    ):
        read_all(path)


def test_nested_column_is_a_source_error(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["a"],
            "author": ["b"],
            "title": ["t"],
            "created_utc": ["1600000000"],
            "score": [[1, 2]],
        }
    )
    pq.write_table(table, tmp_path / "nested.parquet")
    with pytest.raises(SourceError, match=r"nested\.parquet: column\(s\) score"):
        read_all(tmp_path / "nested.parquet")


@pytest.mark.parametrize("content", [b"", b"PAR1 this is not parquet at all", "truncated"])
def test_unreadable_parquet_names_the_file(tmp_path: Path, content: bytes | str) -> None:
    path = tmp_path / "broken.parquet"
    if content == "truncated":
        write_parquet(tmp_path / "good.parquet", [post(id=str(i)) for i in range(50)])
        data = (tmp_path / "good.parquet").read_bytes()
        content = data[: len(data) // 2]
    path.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(SourceError, match=r"broken\.parquet"):
        read_all(path)


def test_empty_parquet_table_gives_no_records(tmp_path: Path) -> None:
    pq.write_table(
        pa.table({c: pa.array([], pa.string()) for c in post()}), tmp_path / "empty.parquet"
    )
    records, rejects = read_all(tmp_path / "empty.parquet")
    assert records.height == 0 and rejects.height == 0


def test_ten_megabyte_post_is_read(tmp_path: Path) -> None:
    big = ("word " * 2_000_000)[:10_000_000]
    records, _ = read_all(
        write_parquet(tmp_path / "big.parquet", [post(selftext=big), post(id="p2")])
    )
    assert records.height == 2
    assert len(records["text"][0]) == len("A title ") + len(big.strip())


def test_streams_in_batches(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "many.parquet", [post(id=str(i)) for i in range(7)])
    chunks = list(reddit.read(RedditSource(path=str(path), batch_size=3)))
    assert [c.records.height for c in chunks] == [3, 3, 1]


# --- reader: JSONL --------------------------------------------------------------------------


def pushshift(**over: object) -> dict[str, object]:
    row: dict[str, object] = {"id": "j1", "author": "someone", "title": "T", "selftext": BODY, "created_utc": 1600000000,
                              "score": 5, "num_comments": 3, "over_18": False, "media": {"nested": [1, 2]}}  # fmt: skip
    row.update(over)
    return row


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".zst"])
def test_pushshift_jsonl_plain_gz_zst(tmp_path: Path, suffix: str) -> None:
    lines = (
        "\n".join(
            json.dumps(pushshift(id=f"j{i}", created_utc=1600000000 + i)) for i in range(5)
        ).encode()
        + b"\n"
    )
    path = tmp_path / f"RS{suffix}"
    if suffix.endswith(".gz"):
        lines = gzip.compress(lines)
    elif suffix.endswith(".zst"):
        lines = zstandard.ZstdCompressor().compress(lines)
    path.write_bytes(lines)
    records, rejects = read_all(path, batch_size=2)
    assert records["record_id"].to_list() == [f"j{i}" for i in range(5)]
    assert rejects.height == 0
    assert meta(records, 4)["score"] == 5 and meta(records, 4)["over_18"] is False
    assert records["created_at"][4] == datetime(2020, 9, 13, 12, 26, 44, tzinfo=UTC)


def test_jsonl_bad_lines_become_rejects_naming_file_and_line(tmp_path: Path) -> None:
    good = json.dumps(pushshift()).encode()
    path = tmp_path / "RS_bad.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                good,
                b'{"id": "x", "author": ',
                b"\xff\xfe not utf-8",
                b"[1, 2]",
                b"",
                json.dumps(pushshift(id="j2")).encode(),
                good[: len(good) // 2],
            ]
        )
    )
    records, rejects = read_all(path)
    assert records["record_id"].to_list() == ["j1", "j2"]
    got = {r["record_id"]: (r["reason"], r["detail"]) for r in rejects.iter_rows(named=True)}
    assert got["RS_bad.jsonl:2"][0] == "parse.bad_json" and got["RS_bad.jsonl:2"][1].startswith(
        f"{path}:2: "
    )
    assert got["RS_bad.jsonl:3"] == ("parse.bad_utf8", f"{path}:3: invalid UTF-8 at byte 0")
    assert (
        got["RS_bad.jsonl:4"][0] == "parse.bad_json" and "JSON object" in got["RS_bad.jsonl:4"][1]
    )
    assert got["RS_bad.jsonl:7"][0] == "parse.bad_json"  # the truncated last line


def test_jsonl_wrongly_typed_values_are_rejects(tmp_path: Path) -> None:
    path = tmp_path / "typed.jsonl"
    path.write_text(
        json.dumps(pushshift(score="high"))
        + "\n"
        + json.dumps(pushshift(id="j2", created_utc=[1]))
        + "\n"
    )
    _, rejects = read_all(path)
    assert sorted(rejects["reason"].to_list()) == ["parse.bad_number", "parse.bad_time"]
    assert f"{path}:1: score" in rejects.filter(pl.col("reason") == "parse.bad_number")["detail"][0]


def test_empty_jsonl_gives_no_records(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert list(reddit.read(RedditSource(path=str(tmp_path / "empty.jsonl")))) == []


def test_truncated_zst_is_an_error_or_a_reject_never_silent(tmp_path: Path) -> None:
    data = "\n".join(json.dumps(pushshift(id=f"j{i}")) for i in range(200)).encode()
    packed = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / "RS_cut.zst"
    path.write_bytes(packed[: len(packed) // 2])
    try:
        records, rejects = read_all(path)
    except SourceError as e:
        assert "RS_cut.zst" in str(e)
    else:
        assert records.height < 200 and rejects.height >= 1


def test_ten_megabyte_jsonl_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(pushshift(selftext="x" * 10_000_000)) + "\n")
    records, _ = read_all(path)
    assert len(records["text"][0]) == 10_000_002


# --- normalisation and meta -----------------------------------------------------------------


def test_fast_normalize_matches_normalize_expr() -> None:
    rnd = random.Random(7)
    alphabet = ["a", "b", " ", "  ", "\n", "\t", "\r\n", "\x0b", "&amp;", "&lt;", "&#x200B;", "&amp", "\u200b", "\xa0",
                "\u3000", "é", "’", "&", "\x1c", "\u2028", "x&y", "&nbsp;", "&#39;", "&quot;", "&copy", "&#x27;",
                "&#32;", "&amp;lt;", "&#0;", "\ufeff", "😅"]  # fmt: skip
    texts = [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))) for _ in range(3000)
    ] + [None, ""]
    s = pl.Series("t", texts, dtype=pl.String)
    expected = s.to_frame().select(normalize_expr(pl.col("t"))).to_series()
    assert normalize(s).to_list() == expected.to_list()
    # normalize_text (Python) agrees too, except on \x1c-\x1f, which Python's \s treats as whitespace
    plain = [
        (t, e)
        for t, e in zip(texts, expected.to_list(), strict=True)
        if t is None or "\x1c" not in t
    ]
    assert [normalize_text(t) for t, _ in plain] == [e for _, e in plain]


def test_meta_fields_fall_back_for_other_layouts() -> None:
    metas = [
        '{"score":3,"num_comments":4,"distinguished":null,"selftext_state":"text","removed_by_category":null}',
        '{"num_comments":"4","score":"3.0","distinguished":"moder\\"ator","extra":{"score":99}}',
        '{"score":3,"num_comments":4,"distinguished":"a\\nb","selftext_state":"text","removed_by_category":null}',
        "not json",
    ]
    got = with_meta_fields(pl.LazyFrame({"meta": metas}), reddit.RULE_FIELDS).collect()
    assert got["score"].to_list() == [3, 3, 3, None]
    assert got["num_comments"].to_list() == [4, 4, 4, None]
    assert got["distinguished"].to_list() == [None, 'moder"ator', "a\nb", None]


# --- rules ----------------------------------------------------------------------------------


def verdicts(
    rows: list[dict[str, str | None]], cfg: FilterConfig | None = None
) -> list[str | None]:
    typed, _ = reddit.parse_batch(
        pl.DataFrame(
            [{**r, "_row": i} for i, r in enumerate(rows)],
            schema={**{k: pl.String for k in reddit.COLUMNS}, "_row": pl.Int64},
        ),
        Path("t.parquet"),
        "row ",
    )
    flagged = rules.flag(reddit.to_records(typed).lazy(), cfg or FilterConfig()).collect()
    return flagged["reason"].to_list()


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({}, None),
        ({"score": "1"}, "reddit.min_score"),
        ({"score": "2"}, None),
        ({"score": None}, "reddit.min_score"),
        ({"num_comments": "1"}, "reddit.min_comments"),
        ({"num_comments": "2"}, None),
        ({"title": "", "selftext": "x" * 299}, "reddit.min_chars"),
        ({"title": "", "selftext": "x" * 300}, None),
        (
            {"title": "", "selftext": "x &amp; " + "y" * 295},
            "reddit.min_chars",
        ),  # 299 once unescaped
        ({"author": "[deleted]"}, "reddit.deleted_author"),
        ({"author": "AutoModerator"}, "reddit.system_user"),
        ({"author": "reddit"}, "reddit.system_user"),
        ({"author": "RemindMeBot"}, "reddit.bot"),
        ({"author": "gif_bot"}, "reddit.bot"),
        ({"author": "bot-9000"}, "reddit.bot"),
        ({"author": "autowikibot"}, "reddit.bot"),
        ({"author": "Talbot"}, None),
        ({"author": "abbot_of_nowhere"}, None),
        ({"author": "robotics_fan"}, None),
        ({"distinguished": "moderator"}, "reddit.moderator"),
        ({"distinguished": "admin"}, "reddit.moderator"),
        ({"distinguished": ""}, None),
        ({"selftext": "[removed]"}, "reddit.removed"),
        ({"selftext": "[deleted]"}, "reddit.removed"),
        ({"removed_by_category": "deleted"}, "reddit.removed"),
        (
            {"author": "AutoModerator", "score": "0"},
            "reddit.system_user",
        ),  # author rules come first
        ({"selftext": "[removed]", "score": "0"}, "reddit.min_score"),  # numbers before the body
    ],
)
def test_each_rule_keeps_and_drops(over: dict[str, str | None], reason: str | None) -> None:
    assert verdicts([post(**over)]) == [reason]


def test_thresholds_and_extra_bots_come_from_config() -> None:
    cfg = FilterConfig.model_validate(
        {
            "reddit": {
                "min_score": 20,
                "min_comments": 0,
                "min_chars": 10,
                "extra_bots": ["Helpful_Helper"],
            }
        }
    )
    rows = [
        post(score="19"),
        post(score="20", num_comments="0", title="ten chars!", selftext=""),
        post(author="helpful_helper"),
    ]
    assert verdicts(rows, cfg) == ["reddit.min_score", None, "reddit.bot"]


FUSED_CASES = [{}, {"score": "0"}, {"author": "gif_bot"}, {"selftext": "[removed]"}, {"selftext": "short"},
               {"title": "&amp;" * 70, "selftext": ""}, {"distinguished": "moderator"}, {"selftext": "x\u3000" * 160},
               {"title": "t", "selftext": "x" * 298}, {"title": "t", "selftext": "x" * 297},
               {"score": "many"}, {"score": "0", "created_utc": "soon"}, {"created_utc": "soon"}, {"author": None},
               {"author": "[deleted]", "title": None}, {"removed_by_category": "deleted"}]  # fmt: skip


def staged_verdicts(cfg: RedditSource) -> tuple[pl.DataFrame, pl.DataFrame]:
    records, rejects = read_all(Path(cfg.path), batch_size=cfg.batch_size)
    flagged = rules.flag(records.lazy(), FilterConfig()).collect()
    kept = flagged.filter(pl.col("reason").is_null()).drop("reason")
    dropped = pl.concat(
        [
            rejects.select("record_id", "reason"),
            flagged.filter(pl.col("reason").is_not_null()).select("record_id", "reason"),
        ]
    )
    return kept.sort("record_id"), dropped.sort("record_id")


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_fused_path_reaches_the_same_verdicts(tmp_path: Path, fmt: str) -> None:
    rows = [post(id=f"{i:02d}", **over) for i, over in enumerate(FUSED_CASES)]
    if fmt == "parquet":
        path = write_parquet(tmp_path / "f.parquet", rows)
    else:
        path = tmp_path / "f.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = RedditSource(path=str(path), batch_size=4)
    kept_staged, dropped_staged = staged_verdicts(cfg)
    parts = list(rules.read_filtered(cfg, FilterConfig()))
    kept = pl.concat([k for k, _ in parts]).sort("record_id")
    dropped = pl.concat([d for _, d in parts]).select("record_id", "reason").sort("record_id")
    assert kept.equals(kept_staged)
    assert dropped.equals(dropped_staged)
    assert kept["record_id"].to_list() == ["00", "07", "08"]
    assert dropped.height == len(FUSED_CASES) - 3


def test_pipeline_on_the_sample_drops_each_rule(tmp_path: Path) -> None:
    cfg = validate_config({"sources": [{"kind": "reddit", "path": str(SAMPLE)}]})
    run_stages(cfg, tmp_path / "run", ["ingest", "filter"])
    rejects = pl.read_parquet(tmp_path / "run" / "rejects" / "*.parquet")
    by_reason = dict(rejects.select("reason", "record_id").iter_rows())
    assert rejects.height == 8  # one per rule, nothing else
    assert by_reason == {
        "reddit.min_chars": "rs003", "reddit.min_score": "rs006", "reddit.removed": "rs009",
        "reddit.min_comments": "rs012", "reddit.moderator": "rs017", "reddit.bot": "rs018",
        "reddit.system_user": "rs019", "reddit.deleted_author": "rs020",
    }  # fmt: skip
    kept = pl.read_parquet(tmp_path / "run" / "filtered" / "*.parquet")
    per_user = kept.group_by("user_id").len()
    assert per_user.filter(pl.col("len") >= 2).height >= 4
    assert kept["text"].str.len_chars().min() >= 300  # type: ignore[operator]
