"""Synthetic corpora in the real input layouts, for the ``stages`` scenario of ``scale.py``.

Sized so that the paper's rule filters keep most of it (``filters/config.py`` defaults): every
user writes ``PER_USER`` records (>= 2 per user; Amazon >= 8 for the k-core), every Amazon item
gets ~8 reviews (>= 3), texts are long enough (Blogger/Reddit >= 300 characters, Amazon >= 100)
and first person, Reddit posts have score and comments >= 2. About ``JUNK_SHARE`` of the records
of each source break one rule on purpose (too short; Reddit: score 0), so ``rejects/`` is not
empty.

- Blogger: one ``id.gender.age.industry.sign.xml`` file per blogger, ``<Blog>`` with
  ``<date>DD,Month,YYYY</date>`` + ``<post>`` pairs and CRLF line ends, as the corpus writes them;
- Reddit: ``submissions-NNNNN.parquet`` files of REDDIT_ROWS_PER_FILE rows, every column a
  string (``HuggingFaceGECLM/REDDIT_submissions``);
- Amazon: ``Synthetic.jsonl`` reviews and ``meta_Synthetic.jsonl`` items (Amazon Reviews 2023).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PER_USER = 10
JUNK_SHARE = 0.05
REDDIT_ROWS_PER_FILE = 20_000
#: Characters of a generated text, per source (the Blog Authorship Corpus averages ~1,100 per
#: post with a long tail; a long Blogger post also exercises the clean stage's parts).
CHARS = {"blogger": 3000, "reddit": 1200, "amazon": 400}
_MONTHS = ("January", "March", "May", "July", "September", "November")
_SUBJECTS = ("I", "My sister", "We", "My friend", "Our neighbour", "My boss", "I", "My mom")
_VERBS = ("went to", "talked about", "worried about", "laughed at", "cleaned", "fixed", "missed")
_THINGS = (
    "the old kitchen",
    "our small garden",
    "the night shift at work",
    "a long walk by the river",
    "my brother's wedding plans",
    "the broken heater",
    "the noisy bus home",
    "a letter from my grandmother",
    "the new puppy next door",
    "the exam I failed last spring",
)
_TAILS = (
    "and I felt strangely calm afterwards.",
    "which made me think about how much I have changed.",
    "but nobody seemed to notice how tired I was.",
    "so we stayed up late talking about it.",
    "and honestly I am still a little annoyed.",
    "and it reminded me why I love this town.",
)


def _sentences(rng: random.Random, n: int = 400) -> list[str]:
    return [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_THINGS)} {rng.choice(_TAILS)}"
        for _ in range(n)
    ]


def _text(rng: random.Random, pool: list[str], chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        s = rng.choice(pool)
        out.append(s)
        size += len(s) + 1
    return " ".join(out)


def _junk(rng: random.Random) -> bool:
    return rng.random() < JUNK_SHARE


def blogger(folder: Path, n: int, seed: int = 1) -> None:
    """``n`` posts, ``PER_USER`` per blogger file."""
    rng = random.Random(seed)
    pool = _sentences(rng)
    folder.mkdir(parents=True, exist_ok=True)
    for u, start in enumerate(range(0, n, PER_USER)):
        gender = "female" if u % 2 else "male"
        name = f"{5_000_000 + u}.{gender}.{18 + u % 40}.indUnk.Leo.xml"
        parts = ["<Blog>", ""]
        for k in range(min(PER_USER, n - start)):
            day, month, year = 1 + k % 28, _MONTHS[k % len(_MONTHS)], 2001 + (u + k) % 5
            body = "Short note." if _junk(rng) else _text(rng, pool, CHARS["blogger"])
            parts += [f"<date>{day},{month},{year}</date>", "<post>", "", f"      {body}", ""]
            parts += ["</post>", ""]
        parts.append("</Blog>")
        (folder / name).write_bytes("\r\n".join(parts).encode("utf-8"))


def reddit(folder: Path, n: int, seed: int = 2) -> None:
    """``n`` submissions, ``PER_USER`` per author, all columns strings."""
    import polars as pl

    rng = random.Random(seed)
    pool = _sentences(rng)
    folder.mkdir(parents=True, exist_ok=True)
    for f, start in enumerate(range(0, n, REDDIT_ROWS_PER_FILE)):
        cols: dict[str, list[str | None]] = {
            c: []
            for c in (
                "id", "author", "subreddit", "title", "selftext", "created_utc", "score",
                "num_comments", "distinguished", "removed_by_category", "stickied", "over_18",
                "permalink",
            )
        }  # fmt: skip
        for i in range(start, min(n, start + REDDIT_ROWS_PER_FILE)):
            pid = f"s{i:08x}"
            junk = _junk(rng)
            row: dict[str, str | None] = {
                "id": pid,
                "author": f"writer_{i // PER_USER:07d}",
                "subreddit": f"sub{i % 50}",
                "title": rng.choice(pool)[:90],
                "selftext": _text(rng, pool, CHARS["reddit"]),
                "created_utc": str(1_500_000_000 + i * 3_600),
                "score": "0" if junk else str(2 + rng.randrange(500)),
                "num_comments": str(2 + rng.randrange(80)),
                "distinguished": None,
                "removed_by_category": None,
                "stickied": "False",
                "over_18": "False",
                "permalink": f"/r/sub{i % 50}/comments/{pid}/",
            }
            for k, v in row.items():
                cols[k].append(v)
        df = pl.DataFrame(cols, schema={c: pl.String for c in cols})
        df.write_parquet(folder / f"submissions-{f:05d}.parquet")


def amazon(folder: Path, n: int, seed: int = 3) -> None:
    """``n`` reviews: ``PER_USER`` per reviewer, each of a different item; items ~n/8, each
    reviewed ~8 times (users ``u`` review items ``u*PER_USER .. +PER_USER-1`` modulo); below
    30 reviews no item can reach the k-core's 3."""
    rng = random.Random(seed)
    pool = _sentences(rng)
    folder.mkdir(parents=True, exist_ok=True)
    n_items = max(PER_USER, n // 8)  # needs n >= 30 for 3 reviews per item
    with (folder / "meta_Synthetic.jsonl").open("w", encoding="utf-8") as out:
        for item in range(n_items):
            meta = {
                "main_category": "Synthetic",
                "title": f"Synthetic product number {item}",
                "average_rating": 4.1,
                "rating_number": 8,
                "features": ["Sturdy", "Easy to clean"],
                "description": ["A product made up for the scale benchmark."],
                "price": f"${5 + item % 90}.99",
                "images": [],
                "videos": [],
                "store": "Benchmark Store",
                "categories": ["Synthetic"],
                "details": {},
                "parent_asin": f"B0{item:08d}",
                "bought_together": None,
            }
            out.write(json.dumps(meta) + "\n")
    with (folder / "Synthetic.jsonl").open("w", encoding="utf-8") as out:
        for i in range(n):
            user, k = divmod(i, PER_USER)
            asin = f"B0{(user * PER_USER + k) % n_items:08d}"
            review = {
                "rating": float(1 + rng.randrange(5)),
                "title": "Synthetic review",
                "text": "Too short." if _junk(rng) else _text(rng, pool, CHARS["amazon"]),
                "images": [],
                "asin": asin,
                "parent_asin": asin,
                "user_id": f"AS{user:026d}",
                "timestamp": 1_500_000_000_000 + i * 86_400_000,
                "helpful_vote": 0,
                "verified_purchase": True,
            }
            out.write(json.dumps(review) + "\n")


def corpus(root: Path, n: int) -> dict[str, Path]:
    """``n`` records per source under ``root``; returns each source's input path."""
    blogger(root / "blogger", n)
    reddit(root / "reddit", n)
    amazon(root / "amazon", n)
    return {
        "blogger": root / "blogger",
        "reddit": root / "reddit",
        "amazon": root / "amazon" / "Synthetic.jsonl",
        "amazon_meta": root / "amazon" / "meta_Synthetic.jsonl",
    }
