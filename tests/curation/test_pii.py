"""The PII safety net alone (the model returns the text unchanged).

Regression tests for the formats and false positives of issue 11 item 3, then the measured
figures on the committed sets (``tests/curation/pii_data``, written by ``make_pii_sets.py``):
per-kind recall >= 95% on the held-out set and <= 2% of PII-free number-heavy sentences altered.
"""

from pathlib import Path

import pytest

from humanllm.curation.pii import scrub

DATA = Path(__file__).parent / "pii_data"


# ------------------------------------------------------------------ formats the net used to miss
@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("order 4111 1111 1111 1112 shipped", "4111 1111 1111 1112"),  # card-shaped, fails Luhn
        ("the card 5500-0000-0000-0005 was declined", "5500-0000-0000-0005"),
        ("my passport number X12345678 expires soon", "X12345678"),
        ("licence DL-48291036 on file", "DL-48291036"),
        ("DNI 12345678Z and NIE X1234567L", "12345678Z"),
        ("DNI 12345678Z and NIE X1234567L", "X1234567L"),
        ("NI number AB 12 34 56 C, please", "AB 12 34 56 C"),
        ("IBAN DE89 3704 0044 0532 0130 00 for the rent", "DE89 3704 0044 0532 0130 00"),
    ],
)
def test_id_numbers_are_replaced(text: str, secret: str) -> None:
    res = scrub(text)
    assert secret not in res.text, res.text
    assert res.counts["id_number"] >= 1


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("we moved to 12 Rue de Rivoli last spring", "Rue de Rivoli"),
        ("post it to Calle Mayor 5 please", "Calle Mayor 5"),
        ("she lives at Hauptstraße 5 now", "Hauptstraße 5"),
        ("my flat is Via Roma 10, 00184 Roma.", "00184 Roma"),
    ],
)
def test_non_english_streets_are_replaced(text: str, secret: str) -> None:
    res = scrub(text)
    assert secret not in res.text, res.text
    assert res.counts["address"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "send it to 42 Elm Street, Springfield, IL 62704 by Friday",
        "send it to Springfield, IL 62704 by Friday",
        "send it to 12 Rue de Rivoli, 75001 Paris by Friday",
    ],
)
def test_address_tails_are_not_left_behind(text: str) -> None:
    out = scrub(text).text
    for piece in ("Springfield", "62704", "75001", "Paris"):
        assert piece not in out, out
    assert out.startswith("send it to ") and out.endswith(" by Friday")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("call (333) 889-5317 x435 after six", "x435"),  # an extension
        ("call 1 (302) 572-3667 after six", "1 (302)"),
        ("call (02)-6824-6314 after six", "6824"),
        ("at Viale Guarneri, 89, 85020, Ginestra (PZ) after six", "(PZ)"),
        ("at Rua Augusta, 86, Vila Da Luz, 25045-815 Costa Verde / RS after six", "815"),
        ("at 892 Obrien Shoals Apt. 508, North Williamport, NS N6G4B4 after six", "Shoals"),
        ("at pl. Sawickiej 15 after six", "Sawickiej"),
    ],
)
def test_external_formats_are_replaced_whole(text: str, secret: str) -> None:
    out = scrub(text).text
    assert secret not in out, out
    assert out.endswith(" after six"), out


# ------------------------------------------------------------------ numbers that are not PII
@pytest.mark.parametrize(
    "text",
    [
        "The log says 2019-05-04 10:30 when the update failed.",
        "We met 04.05.2019 10:30 sharp.",
        "Windows reports version 10.0.19045.3693 after the patch.",
        "It had 1500000 views and 120 000 000 likes.",
        "The video got 1500000000 views.",
        "They won 102-98 101-99 and 99-97.",
        "The population grew from 362.459.790 to 838.172.970.",
        "The ISBN is 978-3-16-148410-0, second edition.",
        "In 1999 I moved to Ohio with 2 kids and $1,250.50 in savings.",
        "The tickets were 45.99 each, row 12, seats 7 and 8.",
        "I bought a 3 Day Pass and watched 2 Live Streams in 4 Golf Courses.",
        "He hit 12 Home Runs and 3 Grand Slams in 2019.",
    ],
)
def test_number_heavy_text_is_left_alone(text: str) -> None:
    res = scrub(text)
    assert res.text == text, (res.text, res.counts)


# ------------------------------------------------------------------ behaviour kept
def test_counts_by_kind() -> None:
    res = scrub(
        "Mail me at a@b.com or call (555) 123-4567; I live at 42 Elm Street. See https://x.io/a?b=1"
    )
    assert res.counts["email"] == 1 and res.counts["phone"] == 1
    assert res.counts["address"] == 1 and res.counts["url"] == 1
    assert "a@b.com" not in res.text and "https://" not in res.text


def test_card_kind_follows_luhn() -> None:
    assert scrub("card 4111 1111 1111 1111 declined").counts == {"card": 1}
    assert scrub("order 4111 1111 1111 1112 shipped").counts == {"id_number": 1}


def test_replacement_is_deterministic_and_keeps_the_shape_of_ids() -> None:
    text = "passport X12345678, phone +44 20 7946 0958, 12 Rue de Rivoli, j@x.org"
    first = scrub(text)
    assert first.text == scrub(text).text
    assert "X00000000" in first.text and "12 Example Street" in first.text
    assert [text[s.start : s.end] for s in first.spans] == [
        "X12345678",
        "+44 20 7946 0958",
        "12 Rue de Rivoli",
        "j@x.org",
    ]


# ------------------------------------------------------------------ measured on the committed sets
def _score(name: str):  # type: ignore[no-untyped-def]
    from humanllm.curation.pii_rules.measure import load, score_planted

    return score_planted(load(DATA / f"pii_{name}.jsonl"))


@pytest.mark.parametrize("name", ["tuning", "heldout"])
def test_recall_per_kind_at_least_95_percent(name: str) -> None:
    from humanllm.curation.pii_rules.measure import KINDS

    score = _score(name)
    for kind in KINDS:
        assert score.planted[kind] >= 40, (kind, score.planted[kind])
        assert score.recall(kind) >= 0.95, (kind, score.recall(kind), score.misses[:5])


@pytest.mark.parametrize("name", ["tuning", "heldout"])
def test_pii_free_number_heavy_sentences_altered_at_most_2_percent(name: str) -> None:
    from humanllm.curation.pii_rules.measure import altered, load

    rows = load(DATA / f"pii_free_{name}.jsonl")
    changed = altered(rows)
    assert len(rows) >= 200
    assert len(changed) / len(rows) <= 0.02, changed[:5]


def test_the_sets_are_what_the_generator_writes(tmp_path: Path) -> None:
    """The committed planted sets match their generator (seeded), spans pointing at their strings."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("make_pii_sets", DATA.parent / "make_pii_sets.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.OUT = tmp_path
    gen.write(
        "pii_heldout.jsonl",
        gen.planted_rows(
            "h",
            29,
            400,
            gen.H_FRAMES,
            gen.H_CONTEXT,
            {
                "email": {"webmail": gen.h_email},
                "phone": gen.H_PHONE,
                "url": gen.H_URL,
                "card": gen.H_CARD,
                "id_number": gen.H_ID,
                "address": gen.H_ADDRESS,
            },
        ),
    )
    assert (tmp_path / "pii_heldout.jsonl").read_text() == (DATA / "pii_heldout.jsonl").read_text()
    for line in (DATA / "pii_tuning.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert all(0 <= s["start"] < s["end"] <= len(row["text"]) for s in row["spans"])
