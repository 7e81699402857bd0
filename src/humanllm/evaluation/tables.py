"""A table of the report: one row per model under column labels, with "Avg." and "Imp. (%)"; the
best value of a column in bold, the second in italics (the paper's red and blue)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Table:
    """One table: rows of (model, values, average, improvement) under column labels."""

    key: str  # figure file stem
    title: str
    short: str  # figure title
    columns: list[str]
    rows: list[tuple[str, list[float | None], float | None, float | None]]
    digits: int
    unit: str
    notes: list[str] = field(default_factory=list)  # lines printed under the table

    def markdown(self) -> str:
        head = ["Model", *self.columns, "Avg.", "Imp. (%)"]
        marks = [_marks([r[1][c] for r in self.rows]) for c in range(len(self.columns))]
        marks.append(_marks([r[2] for r in self.rows]))
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for i, (model, values, avg, imp) in enumerate(self.rows):
            cells = [fmt(v, self.digits, marks[c].get(i)) for c, v in enumerate(values)]
            cells.append(fmt(avg, self.digits, marks[-1].get(i)))
            cells.append("–" if imp is None else f"{imp:+.2f}")
            lines.append("| " + " | ".join([model, *cells]) + " |")
        return "\n".join(lines)


def _marks(values: Sequence[float | None]) -> dict[int, str]:
    """Row index -> "best" / "second" for a column (ties share a mark)."""
    present = sorted({v for v in values if v is not None}, reverse=True)
    out = {}
    for i, v in enumerate(values):
        if v is not None and present and v == present[0]:
            out[i] = "best"
        elif v is not None and len(present) > 1 and v == present[1]:
            out[i] = "second"
    return out if len(values) > 1 else {}


def fmt(value: float | None, digits: int, mark: str | None) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return f"**{text}**" if mark == "best" else f"*{text}*" if mark == "second" else text
