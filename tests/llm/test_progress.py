"""Progress where there is no terminal (a log file, a pipe, CI): plain lines, not silence."""

from __future__ import annotations

import io

from rich.console import Console

from humanllm.llm.progress import LiveProgress, RunSummary


def test_plain_lines_when_the_output_is_not_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    summary = RunSummary(items=3)
    with LiveProgress("clean", 3, summary, console=console, plain_every_s=0.0) as bar:
        for _ in range(3):
            summary.requests += 1
            summary.results += 1
            bar.advance()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("clean: 1/3 (33%)") and "req/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("clean: 3/3 (100%)")
    assert len(lines) == 4  # one per advance (every 0 s here) and one at the end


def test_plain_lines_are_spaced_in_time() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    summary = RunSummary(items=100)
    with LiveProgress("qc", 100, summary, console=console, plain_every_s=3600.0) as bar:
        for _ in range(100):
            bar.advance()
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[-1]]  # only the final one
    assert "100/100" in out.getvalue()


def test_a_terminal_gets_the_live_bar_not_plain_lines() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with LiveProgress("label", 2, RunSummary(items=2), console=console, plain_every_s=0.0) as bar:
        bar.advance(2)
    assert "label: 2/2 (100%)" not in out.getvalue() and "2/2" in out.getvalue()
