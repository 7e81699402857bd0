"""The runner's live progress bar: done/total, requests/s, output tokens/s, ETA and cost."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


@dataclass
class RunSummary:
    """Counts of one runner call; ``as_dict()`` goes into the stage's ``_SUCCESS.json``."""

    items: int = 0
    results: int = 0
    rejects: int = 0
    requests: int = 0  # HTTP requests sent (transient retries included)
    cache_hits: int = 0  # replies taken from the cache instead of asked
    retries: int = 0  # transient retries (429/5xx/time-out/connection)
    invalid_retries: int = 0  # re-asks with a new seed after an invalid or truncated reply
    transient_rejects: int = 0  # records given up on after the transient retries (not cached)
    tokens_in: int = 0  # prompt tokens of the requests sent by this call
    tokens_out: int = 0  # completion tokens of the requests sent by this call
    wall_s: float = 0.0
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None
    started: float = field(default_factory=time.perf_counter, repr=False)

    @property
    def done(self) -> int:
        return self.results + self.rejects

    @property
    def cost(self) -> float | None:
        if self.price_per_1k_input is None and self.price_per_1k_output is None:
            return None
        return (
            self.tokens_in * (self.price_per_1k_input or 0.0)
            + self.tokens_out * (self.price_per_1k_output or 0.0)
        ) / 1000

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def add(self, other: RunSummary) -> RunSummary:
        """Fold the counts of another call (e.g. another shard of the stage) into this one."""
        for name in (
            "items", "results", "rejects", "requests", "cache_hits", "retries",
            "invalid_retries", "transient_rejects", "tokens_in", "tokens_out", "wall_s",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def as_dict(self) -> dict[str, Any]:
        cost = self.cost
        return {
            "items": self.items,
            "results": self.results,
            "rejects": self.rejects,
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "retries": self.retries,
            "invalid_retries": self.invalid_retries,
            "transient_rejects": self.transient_rejects,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "wall_s": round(self.wall_s, 3),
            "cost": None if cost is None else round(cost, 6),
        }


class SummarySum:
    """The live sum of the summaries of a stage's calls running side by side (its units): what a
    stage-wide progress bar shows. Reads like a :class:`RunSummary`."""

    _FIELDS = (
        "items", "results", "rejects", "requests", "cache_hits", "retries", "invalid_retries",
        "transient_rejects", "tokens_in", "tokens_out",
    )  # fmt: skip

    def __init__(self) -> None:
        self.parts: list[RunSummary] = []
        self.started = time.perf_counter()

    def __getattr__(self, name: str) -> Any:
        if name in SummarySum._FIELDS:
            return sum(getattr(p, name) for p in self.parts)
        raise AttributeError(name)

    @property
    def cost(self) -> float | None:
        costs = [c for c in (p.cost for p in self.parts) if c is not None]
        return sum(costs) if costs else None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class _Rates(ProgressColumn):
    def __init__(self, summary: RunSummary | SummarySum) -> None:
        super().__init__()
        self.summary = summary

    def render(self, task: Task) -> Text:
        s = self.summary
        dt = max(s.elapsed(), 1e-9)
        parts = [f"{s.requests / dt:6.1f} req/s", f"{s.tokens_out / dt:7.1f} tok/s"]
        if s.cache_hits:
            parts.append(f"{s.cache_hits:,} cached")
        if s.retries or s.invalid_retries:
            parts.append(f"{s.retries + s.invalid_retries:,} retried")
        if s.rejects:
            parts.append(f"{s.rejects:,} rejected")
        cost = s.cost
        if cost is not None:
            parts.append(f"${cost:,.4f}")
        return Text(" · ".join(parts), style="progress.data.speed")


#: Seconds between the plain progress lines written when the output is not a terminal.
PLAIN_EVERY_S = 30.0


def plain_line(stage: str, done: int, total: int, s: RunSummary | SummarySum) -> str:
    """One line of progress for logs: ``stage: 40/120 (33%) · 1.2 req/s · 85 tok/s · ETA 1m06s``."""
    dt = max(s.elapsed(), 1e-9)
    parts = [f"{stage}: {done:,}/{total:,} ({100 * done / max(total, 1):.0f}%)"]
    parts += [f"{s.requests / dt:.1f} req/s", f"{s.tokens_out / dt:.0f} tok/s"]
    if s.cache_hits:
        parts.append(f"{s.cache_hits:,} cached")
    if s.rejects:
        parts.append(f"{s.rejects:,} rejected")
    if 0 < done < total:
        eta = dt / done * (total - done)
        parts.append(f"ETA {int(eta // 60)}m{int(eta % 60):02d}s")
    cost = s.cost
    if cost is not None:
        parts.append(f"${cost:,.4f}")
    return " · ".join(parts)


class LiveProgress:
    """``with LiveProgress(...) as p: p.advance()``; a no-op when ``enabled`` is false.

    On a terminal: a live bar. Otherwise (a log file, a pipe, CI), where a live bar would print
    nothing until the end: a plain line every :data:`PLAIN_EVERY_S` seconds and one at the end."""

    def __init__(
        self,
        stage: str,
        total: int,
        summary: RunSummary | SummarySum,
        *,
        enabled: bool = True,
        console: Console | None = None,
        plain_every_s: float = PLAIN_EVERY_S,
    ) -> None:
        self.enabled = enabled and total > 0
        self._progress: Progress | None = None
        self.console = console or Console(stderr=True)
        self.stage, self.total, self.summary = stage, total, summary
        self.done = 0
        self.label = stage
        self.plain = self.enabled and not self.console.is_terminal
        self.plain_every_s = plain_every_s
        self._last_plain = time.perf_counter()
        if self.enabled and not self.plain:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _Rates(summary),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                refresh_per_second=4,
                transient=False,
            )
            self._task = self._progress.add_task(stage, total=total)

    def __enter__(self) -> LiveProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.refresh()
            self._progress.stop()
        if self.plain:
            self._print_plain()

    def watch(self, summary: RunSummary) -> None:
        """Add one call's counters to a stage-wide bar (made with a :class:`SummarySum`)."""
        if isinstance(self.summary, SummarySum):
            self.summary.parts.append(summary)

    def grow(self, n: int) -> None:
        """Change the total by ``n`` (a unit's estimated size replaced by its requests)."""
        self.total = max(self.done, self.total + n)
        if self._progress is not None:
            self._progress.update(self._task, total=self.total)

    def units(self, done: int, total: int) -> None:
        """Show how many of the stage's units are finished."""
        label = f"{self.stage} · units {done}/{total}"
        if self._progress is not None:
            self._progress.update(self._task, description=label)
        self.label = label

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._progress is not None:
            self._progress.advance(self._task, n)
        elif self.plain and time.perf_counter() - self._last_plain >= self.plain_every_s:
            self._print_plain()

    def _print_plain(self) -> None:
        self._last_plain = time.perf_counter()
        line = plain_line(self.label, self.done, self.total, self.summary)
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)
