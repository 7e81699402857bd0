"""``humanllm human-eval score``: agreement and means of the filled sheets.

- Means per scale, overall (both scales) and per stratum.
- Krippendorff's α (the ``krippendorff`` package), ordinal and interval, over the 1-5 value
  domain, on the annotators x instances matrix (a blank where an annotator was not assigned).
- A bootstrap 95% interval for each α: instances resampled with replacement (``n_boot`` times,
  seeded), α recomputed, the 2.5th and 97.5th percentiles; a resample without variation (α
  undefined) is left out and counted.
- The same α over both scales together (each instance x scale a unit), the paper's single α.
- The share of instances whose ratings differ by 2 or more on a scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from humanllm.humaneval.sample import load
from humanllm.humaneval.sheets import SCALES, Rating, SheetError, read_ratings
from humanllm.runfolder import atomic_write_text

Level = Literal["ordinal", "interval"]
LEVELS: tuple[Level, ...] = ("ordinal", "interval")
DOMAIN = (1, 2, 3, 4, 5)


class ScoreConfig(BaseModel):
    """Settings of the agreement statistics."""

    n_boot: int = Field(
        default=1000, ge=0, description="Bootstrap resamples for the α intervals (0: none)."
    )
    seed: int = Field(default=0, description="Seed of the bootstrap.")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="Coverage of the intervals.")


class Alpha(BaseModel):
    value: float | None = Field(description="α on all instances (None: no variation at all).")
    low: float | None = None
    high: float | None = None
    undefined_resamples: int = Field(
        default=0, description="Resamples left out: no variation in them."
    )


class ScaleScores(BaseModel):
    mean: float
    alpha: dict[str, Alpha] = Field(description="ordinal and interval")
    disagree_2plus: float = Field(description="Share of instances whose ratings differ by >= 2.")
    counts: dict[str, int] = Field(description="How many ratings gave 1..5.")


class StratumScores(BaseModel):
    n_instances: int
    means: dict[str, float]
    counts: dict[str, dict[str, int]] = Field(description="scale -> rating -> count")


class Scores(BaseModel):
    """``scores.json``: everything the report shows."""

    name: str
    n_instances: int
    n_ratings: int
    annotators: list[str]
    mean: float = Field(description="Mean of every rating on both scales (the paper: 4.65).")
    alpha: dict[str, Alpha] = Field(
        description="α over both scales (each instance x scale a unit; the paper: 0.65)."
    )
    scales: dict[str, ScaleScores]
    strata: dict[str, StratumScores]
    bootstrap: ScoreConfig


def alpha(matrix: np.ndarray, level: Level) -> float | None:
    """Krippendorff's α of an annotators x units matrix (NaN: no rating), values in 1..5."""
    import krippendorff

    values = matrix[~np.isnan(matrix)]
    if values.size == 0 or np.unique(values).size < 2:
        return None  # no variation: the expected disagreement is 0 and α is undefined
    return float(
        krippendorff.alpha(
            reliability_data=matrix, level_of_measurement=level, value_domain=list(DOMAIN)
        )
    )


def bootstrap(
    matrix: np.ndarray,
    level: Level,
    n_boot: int,
    seed: int,
    confidence: float = 0.95,
    blocks: int = 1,
) -> Alpha:
    """α with a percentile interval from resampling the units ``n_boot`` times. With ``blocks``
    > 1 the columns are that many blocks of the same units (e.g. one per scale), and a resampled
    unit brings its column of every block."""
    value = alpha(matrix, level)
    if n_boot == 0 or value is None:
        return Alpha(value=value)
    rng = np.random.default_rng(seed)
    units = matrix.shape[1] // blocks
    got, undefined = [], 0
    for _ in range(n_boot):
        idx = rng.integers(0, units, size=units)
        a = alpha(matrix[:, np.concatenate([idx + k * units for k in range(blocks)])], level)
        if a is None:
            undefined += 1
        else:
            got.append(a)
    if not got:
        return Alpha(value=value, undefined_resamples=undefined)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(got, [tail, 100 - tail])
    return Alpha(value=value, low=float(low), high=float(high), undefined_resamples=undefined)


def _matrix(ratings: Sequence[Rating], scale: str, annotators: list[str], units: list[str]) -> Any:
    m = np.full((len(annotators), len(units)), np.nan)
    row = {a: i for i, a in enumerate(annotators)}
    col = {u: j for j, u in enumerate(units)}
    for r in ratings:
        m[row[r.annotator], col[r.instance_id]] = getattr(r, scale)
    return m


def _counts(values: list[int]) -> dict[str, int]:
    return {str(v): values.count(v) for v in DOMAIN}


def compute(
    name: str,
    ratings: Sequence[Rating],
    stratum_of: dict[str, str],
    annotators: list[str],
    cfg: ScoreConfig,
) -> Scores:
    units = sorted(stratum_of)
    scales: dict[str, ScaleScores] = {}
    matrices = {s: _matrix(ratings, s, annotators, units) for s in SCALES}
    for k, scale in enumerate(SCALES):
        values = [int(getattr(r, scale)) for r in ratings]
        m = matrices[scale]
        spread = np.nanmax(m, axis=0) - np.nanmin(m, axis=0)
        scales[scale] = ScaleScores(
            mean=float(np.mean(values)),
            alpha={
                lv: bootstrap(m, lv, cfg.n_boot, cfg.seed + 7919 * k + j, cfg.confidence)
                for j, lv in enumerate(LEVELS)
            },
            disagree_2plus=float(np.mean(spread >= 2)),
            counts=_counts(values),
        )
    strata: dict[str, StratumScores] = {}
    for stratum in sorted(set(stratum_of.values())):
        mine = [r for r in ratings if stratum_of[r.instance_id] == stratum]
        strata[stratum] = StratumScores(
            n_instances=len({r.instance_id for r in mine}),
            means={s: float(np.mean([getattr(r, s) for r in mine])) for s in SCALES},
            counts={s: _counts([int(getattr(r, s)) for r in mine]) for s in SCALES},
        )
    every = [int(getattr(r, s)) for r in ratings for s in SCALES]
    both = np.hstack([matrices[s] for s in SCALES])
    seed = cfg.seed + 7919 * len(SCALES)
    combined: dict[str, Alpha] = {
        lv: bootstrap(both, lv, cfg.n_boot, seed + j, cfg.confidence, blocks=len(SCALES))
        for j, lv in enumerate(LEVELS)
    }
    return Scores(
        name=name,
        n_instances=len(units),
        n_ratings=len(ratings),
        annotators=annotators,
        mean=float(np.mean(every)),
        alpha=combined,
        scales=scales,
        strata=strata,
        bootstrap=cfg,
    )


def sheet_paths(folder: Path) -> list[Path]:
    paths = sorted((Path(folder) / "sheets").glob("*.csv"))
    if not paths:
        raise SheetError(f"{folder / 'sheets'}: no sheets (*.csv) to score")
    return paths


def score(folder: Path, cfg: ScoreConfig) -> tuple[Scores, list[Path]]:
    """Check the sheets, compute the scores, write ``scores.json``, ``report.md`` and the figure."""
    from humanllm.humaneval.report import write_report

    meta, instances = load(folder)
    assignment = {x.instance_id: x.annotators for x in instances}
    ratings = read_ratings(sheet_paths(folder), assignment)
    stratum_of = {x.instance_id: x.stratum for x in instances}
    scores = compute(meta["name"], ratings, stratum_of, list(meta["annotators"]), cfg)
    out = Path(folder)
    atomic_write_text(scores.model_dump_json(indent=2) + "\n", out / "scores.json")
    written = [out / "scores.json", *write_report(scores, meta, out)]
    return scores, written
