"""Twitter reader (twitter100m tweets + users parquet, JSONL) and rule filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from humanllm.config import validate_config
from humanllm.executor import run_stages
from humanllm.filters import twitter as rules
from humanllm.filters.config import FilterConfig
from humanllm.records import RECORD_SCHEMA
from humanllm.sources import SourceError, twitter
from humanllm.sources.config import TwitterSource

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "twitter"
LONG = (
    "Spent the whole afternoon at my grandmother's kitchen table learning her dumpling recipe, " * 4
)


def tweets_table(rows: list[dict[str, object]]) -> pa.Table:
    """The twitter100m_tweets layout: id and counts int64, date a string."""
    cols = {"user": pa.string(), "id": pa.int64(), "tweet": pa.string(), "replies": pa.int64(),
            "retweets": pa.int64(), "likes": pa.int64(), "quotes": pa.int64(), "date": pa.string()}  # fmt: skip
    return pa.table({c: pa.array([r.get(c) for r in rows], t) for c, t in cols.items()})


def tweet(**over: object) -> dict[str, object]:
    row: dict[str, object] = {"user": "sam_writes", "id": 1, "tweet": LONG, "replies": 1, "retweets": 2, "likes": 3,
                              "quotes": 0, "date": "2022-12-13 23:59:45+00:00"}  # fmt: skip
    row.update(over)
    return row


def users_table(rows: list[tuple[str, bool, int, str]]) -> pa.Table:
    return pa.table(
        {
            "user": [r[0] for r in rows],
            "id": pa.array(range(len(rows)), pa.int64()),
            "verified": [r[1] for r in rows],
            "followers": pa.array([r[2] for r in rows], pa.int64()),
            "description": [r[3] for r in rows],
            "location": ["Somewhere"] * len(rows),
        }
    )


def read_all(
    path: Path, users: Path | None = None, batch_size: int = 50_000
) -> tuple[pl.DataFrame, pl.DataFrame]:
    cfg = TwitterSource(
        path=str(path), users_path=str(users) if users else None, batch_size=batch_size
    )
    chunks = list(twitter.read(cfg))
    records = (
        pl.concat([c.records for c in chunks]) if chunks else pl.DataFrame(schema=RECORD_SCHEMA)
    )
    rejects = (
        pl.concat([c.rejects for c in chunks if c.rejects is not None])
        if chunks
        else pl.DataFrame()
    )
    return records, rejects


def meta(records: pl.DataFrame, i: int = 0) -> dict:
    return json.loads(records["meta"][i])


# --- reader ---------------------------------------------------------------------------------


def test_reads_tweets_and_joins_users_without_regard_to_case(tmp_path: Path) -> None:
    pq.write_table(
        tweets_table([tweet(), tweet(id=2, user="Nobody_Known", tweet="a  &amp;\n b")]),
        tmp_path / "t.parquet",
    )
    users = tmp_path / "users.parquet"
    pq.write_table(
        users_table(
            [("SAM_writes", True, 10, "Writer.\nTea."), ("sam_writes", False, 5, "older copy")]
        ),
        users,
    )
    records, rejects = read_all(tmp_path / "t.parquet", users)
    assert rejects.height == 0 and records.columns == list(RECORD_SCHEMA)
    assert records["record_id"].to_list() == ["1", "2"]
    assert records["created_at"][0] == datetime(2022, 12, 13, 23, 59, 45, tzinfo=UTC)
    assert records["title"].to_list() == [None, None] and records["text"][1] == "a & b"
    first = meta(records, 0)
    assert (first["verified"], first["followers"], first["description"]) == (
        True,
        10,
        "Writer. Tea.",
    )
    assert (
        first["replies"],
        first["retweets"],
        first["likes"],
        first["quotes"],
        first["location"],
    ) == (1, 2, 3, 0, "Somewhere")
    assert meta(records, 1)["verified"] is None and meta(records, 1)["followers"] is None


def test_string_ids_counts_and_timestamp_dates(tmp_path: Path) -> None:
    table = pa.table(
        {"user": ["u"], "id": ["1600000000000000001"], "tweet": [LONG], "likes": ["12"],
         "date": pa.array([datetime(2021, 5, 1, 12, 0)], pa.timestamp("us"))}
    )  # fmt: skip
    pq.write_table(table, tmp_path / "s.parquet")
    records, rejects = read_all(tmp_path / "s.parquet")
    assert rejects.height == 0
    assert records["record_id"][0] == "1600000000000000001"
    assert records["created_at"][0] == datetime(2021, 5, 1, 12, 0, tzinfo=UTC)
    assert meta(records)["likes"] == 12 and meta(records)["replies"] is None


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2022-12-13T23:59:45Z", datetime(2022, 12, 13, 23, 59, 45, tzinfo=UTC)),
        ("2022-12-14 01:59:45+02:00", datetime(2022, 12, 13, 23, 59, 45, tzinfo=UTC)),
        ("2022-12-13 23:59:45", datetime(2022, 12, 13, 23, 59, 45, tzinfo=UTC)),
        ("1670975985", datetime(2022, 12, 13, 23, 59, 45, tzinfo=UTC)),
    ],
)
def test_date_formats(tmp_path: Path, date: str, expected: datetime) -> None:
    pq.write_table(tweets_table([tweet(date=date)]), tmp_path / "d.parquet")
    records, _ = read_all(tmp_path / "d.parquet")
    assert records["created_at"][0] == expected


def test_bad_rows_are_rejects_naming_file_and_row(tmp_path: Path) -> None:
    rows = [
        tweet(),
        tweet(id=2, date="last tuesday"),
        tweet(id=3, tweet=None),
        tweet(id=None),
        tweet(id=5, user=""),
    ]
    path = tmp_path / "bad.parquet"
    pq.write_table(tweets_table(rows), path)
    records, rejects = read_all(path)
    assert records["record_id"].to_list() == ["1"]
    got = {r["record_id"]: (r["reason"], r["detail"]) for r in rejects.iter_rows(named=True)}
    assert got["2"] == ("parse.bad_time", f"{path}:row 2: date is not a date")
    assert got["3"] == ("parse.missing_field", f"{path}:row 3: tweet is missing")
    assert got["bad.parquet:row 4"] == ("parse.missing_field", f"{path}:row 4: id is missing")
    assert got["5"] == ("parse.missing_field", f"{path}:row 5: user is missing")


def test_missing_columns_are_source_errors(tmp_path: Path) -> None:
    pq.write_table(tweets_table([tweet()]).drop(["tweet"]), tmp_path / "notweet.parquet")
    with pytest.raises(SourceError, match=r"notweet\.parquet: missing required column\(s\) tweet"):
        read_all(tmp_path / "notweet.parquet")
    pq.write_table(tweets_table([tweet()]), tmp_path / "t.parquet")
    pq.write_table(pa.table({"name": ["x"]}), tmp_path / "users.parquet")
    with pytest.raises(SourceError, match=r"users\.parquet: missing required column\(s\) user"):
        read_all(tmp_path / "t.parquet", tmp_path / "users.parquet")


def test_corrupt_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "zero.parquet").write_bytes(b"")
    with pytest.raises(SourceError, match=r"zero\.parquet"):
        read_all(tmp_path / "zero.parquet")
    pq.write_table(tweets_table([tweet(id=i) for i in range(100)]), tmp_path / "ok.parquet")
    data = (tmp_path / "ok.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[:-20])
    with pytest.raises(SourceError, match=r"cut\.parquet"):
        read_all(tmp_path / "cut.parquet")
    pq.write_table(tweets_table([]), tmp_path / "norows.parquet")
    assert read_all(tmp_path / "norows.parquet")[0].height == 0


def test_jsonl_tweets(tmp_path: Path) -> None:
    path = tmp_path / "tweets.jsonl"
    path.write_text(json.dumps(tweet()) + "\n{broken\n" + json.dumps(tweet(id=2, likes="x")) + "\n")
    records, rejects = read_all(path)
    assert records["record_id"].to_list() == ["1"]
    assert sorted(rejects["reason"].to_list()) == ["parse.bad_json", "parse.bad_number"]
    assert f"{path}:2: " in rejects.filter(pl.col("reason") == "parse.bad_json")["detail"][0]


def test_ten_megabyte_tweet_is_read(tmp_path: Path) -> None:
    pq.write_table(tweets_table([tweet(tweet="z" * 10_000_000)]), tmp_path / "big.parquet")
    assert len(read_all(tmp_path / "big.parquet")[0]["text"][0]) == 10_000_000


# --- rules ----------------------------------------------------------------------------------

USERS = [
    ("sam_writes", False, 300, "Nurse, runner, bad at replying to texts."),
    ("famous_singer", True, 2_000_000, "Singer. Mum of two. Views my own."),
    ("AcmeRetail", True, 900_000, "Official home of Acme, the store for everything since 1952."),
    ("tiny_bakery", False, 800, "Our products are baked fresh daily. For support, DM us!"),
    ("WidgetCoSupport", False, 1_500, "Widget Co. helping customers with orders."),
    ("HelpfulSupport", False, 40, "I just like answering questions on forums."),
    ("shop_girl_92", False, 120, "Working weekends at a shop. Reading everything."),
]


def verdicts(
    tmp_path: Path, rows: list[dict[str, object]], cfg: FilterConfig | None = None
) -> list[str | None]:
    pq.write_table(
        tweets_table([{**r, "id": i} for i, r in enumerate(rows)]), tmp_path / "t.parquet"
    )
    pq.write_table(users_table(USERS), tmp_path / "u.parquet")
    records, _ = read_all(tmp_path / "t.parquet", tmp_path / "u.parquet")
    flagged = (
        rules.flag(records.lazy(), cfg or FilterConfig())
        .collect()
        .sort(pl.col("record_id").cast(pl.Int64))
    )
    return flagged["reason"].to_list()


STATUS = "https://twitter.com/someone/status/1600000000000000000"


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({}, None),
        ({"tweet": "x" * 299}, "twitter.min_chars"),
        ({"tweet": "x" * 300}, None),
        ({"tweet": " \n" + "x" * 299}, "twitter.min_chars"),  # measured after normalising
        ({"tweet": "RT @friend: " + LONG}, "twitter.retweet"),
        ({"tweet": "MT @friend: " + LONG}, "twitter.retweet"),
        ({"tweet": LONG + " I would RT @friend if I could."}, None),
        ({"tweet": LONG + " " + STATUS}, "twitter.quote_tweet"),
        ({"tweet": LONG + " https://x.com/someone/status/16?s=20"}, "twitter.quote_tweet"),
        ({"tweet": "QT @friend " + LONG}, "twitter.quote_tweet"),
        ({"tweet": f"Saw {STATUS} earlier. " + LONG}, None),  # a link mid-text is not a quote
        ({"user": "famous_singer"}, None),  # verified and big, but a person
        ({"user": "AcmeRetail"}, "twitter.brand_account"),  # verified, big, brand words
        ({"user": "tiny_bakery"}, "twitter.brand_account"),  # corporate phrase, any size
        ({"user": "WidgetCoSupport"}, "twitter.brand_account"),  # brand-like name + brand words
        ({"user": "HelpfulSupport"}, None),  # brand-like name alone is not enough
        ({"user": "shop_girl_92"}, None),  # brand word alone is not enough
        ({"tweet": LONG + " Shop now, link in bio!"}, "twitter.advert"),
        ({"tweet": LONG + " Use code SPRING25 at checkout."}, "twitter.advert"),
        ({"tweet": LONG + " Everything is 30% off today."}, "twitter.advert"),
        ({"tweet": LONG + " We got 30% of the way there."}, None),
        ({"tweet": LONG + " #ad"}, "twitter.advert"),
        ({"tweet": LONG + " I went shopping for code books."}, None),
        ({"tweet": LONG + " #a #b #c #d"}, None),
        ({"tweet": LONG + " #a #b #c #d #e"}, "twitter.advert"),
        ({"tweet": LONG + " http://a.test http://b.test"}, None),
        ({"tweet": LONG + " http://a.test http://b.test https://c.test"}, "twitter.advert"),
        (
            {"user": "AcmeRetail", "tweet": "short"},
            "twitter.brand_account",
        ),  # user rules come first
        ({"tweet": "RT @x: short"}, "twitter.min_chars"),  # length before any text regex
    ],
)
def test_each_rule_keeps_and_drops(
    tmp_path: Path, over: dict[str, object], reason: str | None
) -> None:
    assert verdicts(tmp_path, [tweet(**over)]) == [reason]


def test_thresholds_and_extra_brands_come_from_config(tmp_path: Path) -> None:
    cfg = FilterConfig.model_validate(
        {
            "twitter": {
                "min_chars": 10,
                "extra_brands": ["SAM_WRITES"],
                "brand_min_followers": 3_000_000,
                "max_hashtags": 2,
            }
        }
    )
    rows = [
        tweet(),
        tweet(user="AcmeRetail"),
        tweet(user="x", tweet="ten chars! #a #b"),
        tweet(user="x", tweet="ten chars!"),
    ]
    assert verdicts(tmp_path, rows, cfg) == ["twitter.brand_account", None, "twitter.advert", None]


def test_without_users_table_only_the_name_list_applies(tmp_path: Path) -> None:
    pq.write_table(
        tweets_table([tweet(user="AcmeRetail"), tweet(id=2, user="listed")]), tmp_path / "t.parquet"
    )
    records, _ = read_all(tmp_path / "t.parquet")
    cfg = FilterConfig.model_validate({"twitter": {"extra_brands": ["Listed"]}})
    assert rules.flag(records.lazy(), cfg).collect().sort("record_id")["reason"].to_list() == [
        None,
        "twitter.brand_account",
    ]


def test_pipeline_on_the_sample_drops_each_rule(tmp_path: Path) -> None:
    source = {
        "kind": "twitter",
        "path": str(SAMPLE / "tweets.parquet"),
        "users_path": str(SAMPLE / "users.parquet"),
    }
    run_stages(validate_config({"sources": [source]}), tmp_path / "run", ["ingest", "filter"])
    rejects = pl.read_parquet(tmp_path / "run" / "rejects" / "*.parquet")
    by_reason = dict(rejects.select("reason", "record_id").iter_rows())
    assert rejects.height == 5  # one per rule, nothing else
    base = 1630000000000000000
    assert by_reason == {
        "twitter.min_chars": str(base + 13), "twitter.retweet": str(base + 14), "twitter.quote_tweet": str(base + 15),
        "twitter.brand_account": str(base + 16), "twitter.advert": str(base + 17),
    }  # fmt: skip
    kept = pl.read_parquet(tmp_path / "run" / "filtered" / "*.parquet")
    assert kept.group_by("user_id").len().filter(pl.col("len") >= 2).height >= 4
    assert kept["text"].str.len_chars().min() >= 300  # type: ignore[operator]
