"""Grouped bar charts (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path


def bar_chart(
    path: Path,
    title: str,
    columns: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    unit: str,
) -> None:
    """One group of bars per column, one bar per model; a missing value draws no bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(series))
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(columns) + 2), 4.2), dpi=110)
    try:
        for k, (model, values) in enumerate(series.items()):
            xs = [c + (k - (n - 1) / 2) * width for c in range(len(columns))]
            ys = [float("nan") if v is None else v for v in values]
            ax.bar(xs, ys, width=width, label=model)
        ax.set_xticks(range(len(columns)))
        ax.set_xticklabels(columns, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(title if len(title) <= 70 else title[:67] + "...", fontsize=9)
        ax.legend(fontsize=7, loc="best")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
