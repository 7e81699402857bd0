"""The types every stage uses: its context, its result, its entry in the stage table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console

from humanllm.config import RunConfig
from humanllm.runfolder import RunFolder, SourceCounts

if TYPE_CHECKING:
    from humanllm.units import UnitPlan


class StageError(RuntimeError):
    """A stage that cannot run (missing inputs, bad data); the message says what to do."""


@dataclass
class StageContext:
    cfg: RunConfig
    run: RunFolder
    stage: str
    console: Console


@dataclass
class StageResult:
    counts: dict[str, SourceCounts] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[StageContext], StageResult] | UnitPlan  # a whole-stage function, or its units
    sections: tuple[str, ...]  # config sections the stage depends on
    inputs: tuple[str, ...]  # upstream stages
    help: str
    version: str = "1"
    # Keep the folder of an interrupted run with the same fingerprint instead of clearing it, so
    # the stage can resume from what it left (training checkpoints).
    keep_partial: bool = False

    @property
    def units(self) -> UnitPlan | None:
        return None if callable(self.run) else self.run
