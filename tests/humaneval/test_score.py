"""Krippendorff's alpha (checked by hand), the seeded bootstrap, and ``score`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from humanllm.humaneval.score import ScoreConfig, alpha, bootstrap, score
from tests.humaneval.fixtures import assignment, fill, genome_run, sampled

pytest.importorskip("krippendorff")

NAN = np.nan
# Three raters (rows) x four units (columns), a blank where a rater did not rate the unit.
MATRIX = np.array(
    [
        [1, 2, 3, NAN],
        [1, 3, NAN, 4],
        [NAN, 3, 3, 4],
    ]
)
# By hand. Pairable values per unit: u1 {1,1}, u2 {2,3,3}, u3 {3,3}, u4 {4,4}; n = 9.
# Coincidences o_ck = sum over units of (ordered pairs c,k from different raters) / (m_u - 1):
#   u1: (1,1) x2 / 1 -> o11 = 2;  u2: (2,3) x2, (3,2) x2, (3,3) x2, each / 2 -> o23 = o32 = 1,
#   o33 = 1;  u3: o33 += 2 -> 3;  u4: o44 = 2.   Marginals n1 = 2, n2 = 1, n3 = 4, n4 = 2.
# alpha = 1 - D_o / D_e, D_o = sum o_ck d2(c,k) / n, D_e = sum n_c n_k d2(c,k) / (n (n - 1)).
# Interval, d2 = (c - k)^2:
#   D_o = (o23 + o32) * 1 / 9 = 2/9
#   D_e = 2 * [2*1*1 + 2*4*4 + 2*2*9 + 1*4*1 + 1*2*4 + 4*2*1] / 72 = 2 * 90 / 72 = 5/2
#   alpha = 1 - (2/9) / (5/2) = 1 - 4/45 = 41/45
# Ordinal, d(c,k) = sum_{g=c..k} n_g - (n_c + n_k)/2 (rank distance; n5 = 0 adds nothing):
#   d2(1,2) = 1.5^2 = 2.25, d2(1,3) = 4^2 = 16, d2(1,4) = 7^2 = 49,
#   d2(2,3) = 2.5^2 = 6.25, d2(2,4) = 5.5^2 = 30.25, d2(3,4) = 3^2 = 9
#   D_o = 2 * 6.25 / 9 = 12.5/9
#   D_e = 2 * [2*1*2.25 + 2*4*16 + 2*2*49 + 1*4*6.25 + 1*2*30.25 + 4*2*9] / 72 = 2 * 486 / 72 = 13.5
#   alpha = 1 - (12.5/9) / 13.5 = 1 - 25/243 = 218/243
BY_HAND = {"interval": 41 / 45, "ordinal": 218 / 243}


@pytest.mark.parametrize("level", ["interval", "ordinal"])
def test_alpha_matches_the_hand_computation(level: str) -> None:
    assert alpha(MATRIX, level) == pytest.approx(BY_HAND[level], abs=1e-9)


def test_alpha_without_variation_is_undefined() -> None:
    assert alpha(np.array([[3, 3, NAN], [3, NAN, 3]]), "interval") is None
    assert bootstrap(np.array([[3, 3], [3, 3]]), "ordinal", 50, 0).value is None


def _noisy(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=40)
    m = np.vstack([np.clip(truth + rng.integers(-1, 2, size=40), 1, 5) for _ in range(3)]).astype(
        float
    )
    m[rng.integers(0, 3, size=40), np.arange(40)] = NAN  # two ratings per unit
    return m


def test_bootstrap_is_seeded() -> None:
    m = _noisy()
    a = bootstrap(m, "ordinal", 200, seed=5)
    b = bootstrap(m, "ordinal", 200, seed=5)
    c = bootstrap(m, "ordinal", 200, seed=6)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.value == c.value == alpha(m, "ordinal")
    assert a.low is not None and a.high is not None and a.low < a.value < a.high


def test_score_writes_means_alpha_disagreement_report_and_figure(tmp_path: Path) -> None:
    run = genome_run(tmp_path / "run")
    folder = sampled(run, n=60, seed=1)
    who = assignment(folder)

    def rating(iid: str, annotator: str, stratum: str) -> tuple[int, int]:
        # hallucination: 5 everywhere but 3 on scenarios; a3 says 1 on social QA where a1 says 5
        h = 3 if "scenario" in stratum else 5
        if "social QA" in stratum and annotator == "a3" and "a1" in who[iid]:
            h = 1
        p = 4 if annotator == "a2" else 5
        return h, p

    fill(folder, rating)
    scores, written = score(folder, ScoreConfig(n_boot=50, seed=2))
    assert [p.name for p in written] == ["scores.json", "report.md", "ratings.png"]
    strata = _strata(folder)
    ratings = [(iid, a, rating(iid, a, s)) for iid, s in strata.items() for a in who[iid]]
    hs = [r[2][0] for r in ratings]
    ps = [r[2][1] for r in ratings]
    assert scores.n_ratings == len(ratings) == 120
    assert scores.scales["hallucination"].mean == pytest.approx(np.mean(hs))
    assert scores.scales["plausibility"].mean == pytest.approx(np.mean(ps))
    assert scores.mean == pytest.approx(np.mean(hs + ps))
    for name, st in scores.strata.items():
        assert st.means["plausibility"] < 5.0  # a2 gives 4 (every stratum has a2 ratings)
        if "scenario" in name:
            assert st.means["hallucination"] == 3.0
        elif "persona" in name:
            assert st.means["hallucination"] == 5.0
        else:
            assert 1.0 < st.means["hallucination"] < 5.0
    qa_a1_a3 = sum(
        1
        for iid, s in _strata(folder).items()
        if "social QA" in s and set(who[iid]) == {"a1", "a3"}
    )
    assert qa_a1_a3 > 0
    assert scores.scales["hallucination"].disagree_2plus == pytest.approx(qa_a1_a3 / 60)
    assert scores.scales["plausibility"].disagree_2plus == 0.0
    assert scores.scales["hallucination"].counts["1"] == qa_a1_a3
    units = sorted(who)
    m = {
        k: np.array(
            [
                [float(rating(i, a, strata[i])[k]) if a in who[i] else NAN for i in units]
                for a in ("a1", "a2", "a3")
            ]
        )
        for k in (0, 1)
    }
    for lv in ("ordinal", "interval"):
        assert scores.scales["hallucination"].alpha[lv].value == pytest.approx(alpha(m[0], lv))
        assert scores.alpha[lv].value == pytest.approx(alpha(np.hstack([m[0], m[1]]), lv))
        assert scores.alpha[lv].low is not None
        a = scores.scales["hallucination"].alpha[lv]
        assert a.value is not None and a.low is not None and a.high is not None
        assert a.low <= a.high
    saved = json.loads((folder / "scores.json").read_text())
    assert saved["scales"]["hallucination"]["mean"] == pytest.approx(np.mean(hs))
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert f"**Mean rating: {np.mean(hs + ps):.2f}**" in report
    assert "| blogger · scenario |" in report and "figures/ratings.png" in report
    png = (folder / "figures" / "ratings.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def _strata(folder: Path) -> dict[str, str]:
    from humanllm.humaneval.sample import load

    return {x.instance_id: x.stratum for x in load(folder)[1]}
