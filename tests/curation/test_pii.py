"""The planted-PII test: the safety net alone (model returns the text unchanged) must remove >= 95%."""

import itertools
import random

from humanllm.curation.pii import scrub

EMAILS = [
    "john.smith84@gmail.com",
    "k_lee@outlook.co.uk",
    "maria+shop@yahoo.com",
    "dave@my-company.org",
    "a.b.c@uni.edu",
    "pat_o'brien@mail.ie".replace("'", ""),
    "zoe99@proton.me",
    "hr@acme-widgets.net",
]
PHONES = [
    "(555) 123-4567",
    "555-867-5309",
    "+44 20 7946 0958",
    "07700 900123",
    "+1 415 555 2671",
    "020 7946 0018",
    "+49 30 901820",
    "415.555.0199",
    "+33 1 42 68 53 00",
    "(02) 9374 4000",
]
IDS = [
    "123-45-6789",
    "987-65-4320",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "378282246310005",
    "6011111111111117",
    "AB1234567".replace("AB", "") + "12",
    "1234567890",
    "00123456789",
]
ADDRESSES = [
    "42 Elm Street",
    "1600 Pennsylvania Avenue",
    "221B Baker Street",
    "12 Oak Lane, Apt 4B",
    "7 Old Mill Road",
    "350 Fifth Ave",
    "88 Sunset Blvd",
    "5 Rose Court",
    "19 Kings Road",
    "1234 Maple Drive, Suite 200",
]

TEMPLATES = [
    "Honestly I was furious when my landlord texted me again. {} is what he wrote on the form, can you believe it?",
    "If anyone from the meetup wants to reach me, it's {} — I check it most evenings after work.",
    "My mom still lives at {} and every Sunday I drive over, even when I'm exhausted from the week.",
    "I wrote {} on the back of the receipt so I wouldn't forget, and then of course I lost the receipt.",
]

SAFE = [
    "In 1999 I moved to Ohio with 2 kids and $1,250.50 in savings.",
    "We met at 10:30 on 2019-05-04 and talked for 3 hours.",
    "I ran 5 km in 27 minutes, my best time since 2015!",
    "The tickets were 45.99 each, row 12, seats 7 and 8.",
]


def planted() -> list[tuple[str, str]]:
    rng = random.Random(7)
    items = [
        (kind, v)
        for kind, vals in (
            ("email", EMAILS),
            ("phone", PHONES),
            ("id", IDS),
            ("address", ADDRESSES),
        )
        for v in vals
    ]
    out = []
    for (kind, value), tmpl in zip(items, itertools.cycle(TEMPLATES), strict=False):
        out.append((kind, tmpl.format(value) + " " + rng.choice(SAFE)))
    return out


def test_safety_net_alone_removes_at_least_95_percent() -> None:
    records = planted()
    values = [
        v for _, vals in (("e", EMAILS), ("p", PHONES), ("i", IDS), ("a", ADDRESSES)) for v in vals
    ]
    removed = 0
    per_kind: dict[str, list[int]] = {}
    for (kind, text), value in zip(records, values, strict=True):
        out = scrub(text).text
        hit = value not in out
        removed += hit
        per_kind.setdefault(kind, []).append(hit)
    rate = removed / len(values)
    print(f"planted PII removed by the safety net alone: {removed}/{len(values)} = {rate:.1%}")
    for kind, hits in per_kind.items():
        print(f"  {kind}: {sum(hits)}/{len(hits)}")
    assert rate >= 0.95


def test_counts_by_kind() -> None:
    res = scrub(
        "Mail me at a@b.com or call (555) 123-4567; I live at 42 Elm Street. See https://x.io/a?b=1"
    )
    assert res.counts["email"] == 1 and res.counts["phone"] == 1
    assert res.counts["address"] == 1 and res.counts["url"] == 1
    assert "a@b.com" not in res.text and "https://" not in res.text


def test_ordinary_numbers_survive() -> None:
    for text in SAFE:
        res = scrub(text)
        assert res.text == text, (text, res.text, res.counts)
        assert sum(res.counts.values()) == 0


def test_card_requires_luhn() -> None:
    assert scrub("order 4111 1111 1111 1112 shipped").counts["card"] == 0
    assert scrub("card 4111 1111 1111 1111 declined").counts["card"] == 1
