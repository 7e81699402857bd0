"""``report.md`` and ``figures/ratings.png`` of a scored human evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from humanllm.humaneval.score import DOMAIN, LEVELS, Alpha, Scores
from humanllm.humaneval.sheets import SCALE_TEXT, SCALES
from humanllm.runfolder import atomic_write_text

FIGURE = Path("figures") / "ratings.png"


def alpha_text(a: Alpha) -> str:
    if a.value is None:
        return "undefined (no variation)"
    ci = "" if a.low is None or a.high is None else f" [{a.low:.2f}, {a.high:.2f}]"
    return f"{a.value:.2f}{ci}"


def scale_title(scale: str) -> str:
    return str(SCALE_TEXT[scale]["title"])


def render_report(scores: Scores, meta: dict[str, Any]) -> str:
    b = scores.bootstrap
    pct = round(b.confidence * 100)
    lines = [
        f"# Human evaluation: {scores.name}",
        "",
        f"Run: `{meta.get('run_dir', '')}` · sampled {meta.get('created_at', '')} "
        f"(seed {meta.get('settings', {}).get('seed', '')}) · {scores.n_instances} instances · "
        f"{scores.n_ratings} ratings by {len(scores.annotators)} annotators "
        f"({', '.join(scores.annotators)}).",
        "",
        "Scales 1-5: hallucination (5 = no hallucination) and semantic plausibility "
        "(5 = high plausibility).",
        "",
        f"**Mean rating: {scores.mean:.2f}** (both scales; the paper reports 4.65 and α = 0.65).",
        "",
        f"| scale | mean | α ordinal [{pct}% CI] | α interval [{pct}% CI] | ratings differ by ≥ 2 |",
        "|---|---|---|---|---|",
    ]
    for s in SCALES:
        sc = scores.scales[s]
        lines.append(
            f"| {scale_title(s)} | {sc.mean:.2f} | {alpha_text(sc.alpha['ordinal'])} | "
            f"{alpha_text(sc.alpha['interval'])} | {sc.disagree_2plus:.1%} |"
        )
    lines.append(
        f"| both scales | {scores.mean:.2f} | {alpha_text(scores.alpha['ordinal'])} | "
        f"{alpha_text(scores.alpha['interval'])} | |"
    )
    undefined = sum(
        a.undefined_resamples
        for a in [scores.alpha[lv] for lv in LEVELS]
        + [sc.alpha[lv] for sc in scores.scales.values() for lv in LEVELS]
    )
    lines += [
        "",
        f"Intervals: {b.n_boot} bootstrap resamples of the instances, seed {b.seed}"
        + (f"; {undefined} resample(s) without variation left out." if undefined else "."),
        "",
        "## Per stratum",
        "",
        "| stratum | instances | " + " | ".join(f"{scale_title(s)} mean" for s in SCALES) + " |",
        "|---|---|" + "---|" * len(SCALES),
    ]
    for name, st in scores.strata.items():
        means = " | ".join(f"{st.means[s]:.2f}" for s in SCALES)
        lines.append(f"| {name} | {st.n_instances} | {means} |")
    lines += [
        "",
        "## Rating distribution",
        "",
        f"![Ratings per stratum]({FIGURE.as_posix()})",
        "",
        "| scale | " + " | ".join(str(v) for v in DOMAIN) + " |",
        "|---|" + "---|" * len(DOMAIN),
    ]
    for s in SCALES:
        counts = scores.scales[s].counts
        lines.append(
            f"| {scale_title(s)} | " + " | ".join(str(counts[str(v)]) for v in DOMAIN) + " |"
        )
    return "\n".join(lines) + "\n"


def draw_figure(scores: Scores, path: Path) -> None:
    """Per scale, one stacked horizontal bar per stratum: the share of ratings 1..5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    strata = list(scores.strata)
    colors = ["#b3261e", "#e08a3c", "#d9c85a", "#8cc38f", "#2e7d4f"]
    height = max(2.6, 0.42 * len(strata) + 1.6)
    fig, axes = plt.subplots(1, len(SCALES), figsize=(11, height), dpi=110, sharey=True)
    try:
        for ax, scale in zip(axes, SCALES, strict=True):
            left = [0.0] * len(strata)
            for v, color in zip(DOMAIN, colors, strict=True):
                shares = []
                for st in strata:
                    c = scores.strata[st].counts[scale]
                    total = sum(c.values()) or 1
                    shares.append(c[str(v)] / total)
                ax.barh(strata, shares, left=left, color=color, label=str(v))
                left = [a + b for a, b in zip(left, shares, strict=True)]
            ax.set_xlim(0, 1)
            ax.set_xlabel("share of ratings")
            ax.set_title(
                f"{scale_title(scale)} (mean {scores.scales[scale].mean:.2f})", fontsize=10
            )
            ax.tick_params(axis="y", labelsize=8)
        axes[0].invert_yaxis()  # strata top to bottom (the axes share y: invert once)
        axes[-1].legend(
            title="rating",
            fontsize=7,
            title_fontsize=8,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
        )
        fig.suptitle(f"Human evaluation {scores.name}: ratings per stratum", fontsize=11)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)


def write_report(scores: Scores, meta: dict[str, Any], folder: Path) -> list[Path]:
    report = folder / "report.md"
    atomic_write_text(render_report(scores, meta), report)
    figure = folder / FIGURE
    draw_figure(scores, figure)
    return [report, figure]
