"""What one training task is: a small record of plain functions, owned by the task's module.

A :class:`Task` names everything that differs from one task to the next — how its rows are built
from the genome, the Table-1 label, how its test rows become multiple-choice questions, which
application study judges it, and which simulator application asks its prompt. The stages loop
over the registry (:mod:`humanllm.tasks.registry`) and call these; nothing else in the package
lists the tasks.

Question makers (``Task.questions``):

- :data:`GENERATED`: the real reply and distractors written by the distractor models, shuffled
  (the 8-way questions of Table 1), built by :mod:`humanllm.evaluation.indomain`;
- a :class:`QuestionMaker`: the task builds its own questions from its test rows (item
  selection: the true item and items drawn from the genome's item pool);
- ``None``: the task is not asked in-domain.

A task module declares its task with :func:`task` above its builder; :func:`declared` gives it
back (the built-in tasks' list, :data:`humanllm.tasks.defs.BUILTIN`, is made that way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from humanllm.tasks.inputs import Genome
from humanllm.tasks.rows import BuildOptions, Built

if TYPE_CHECKING:
    from humanllm.evaluation.config import InDomainConfig
    from humanllm.evaluation.judge import Application
    from humanllm.evaluation.mc import MCQuestion
    from humanllm.simulate.apps import SimApp

Builder = Callable[[Genome, BuildOptions], Built]
Group = Literal["t1", "t2"]

#: The in-domain question kind whose wrong options the distractor models write.
GENERATED: Literal["generated"] = "generated"


@dataclass(frozen=True)
class QuestionContext:
    """What a task's own question maker may use besides its rows."""

    genome_dir: Path
    config: InDomainConfig
    seed: int


class QuestionMaker(Protocol):
    def __call__(
        self, rows: Sequence[dict[str, Any]], ids: Sequence[str], ctx: QuestionContext
    ) -> list[MCQuestion | str]:
        """One question per row, in row order, or the reason the row cannot be one."""
        ...


@dataclass(frozen=True)
class Task:
    """One training task. ``name`` is also its folder under ``tasks/`` and the ``task`` column of
    its rows; ``build`` turns the genome (one user bucket of it) into rows."""

    name: str
    build: Builder
    label: str  # the Table-1 column heading of its in-domain questions
    group: Group | None = None  # the ablation group (§4.4, Q3) it belongs to, if any
    questions: Literal["generated"] | QuestionMaker | None = None
    table_column: int | None = None  # its place among Table 1's columns (None: after them)
    judge: Application | None = None  # the application study (§4.5) drawn from its test rows
    app: SimApp | None = None  # the simulator application that asks its prompt


_DECLARED: dict[Builder, Task] = {}


def task(
    name: str,
    label: str,
    *,
    group: Group | None = None,
    column: int | None = None,
    questions: Literal["generated"] | QuestionMaker | None = None,
    judge: Application | None = None,
    app: SimApp | None = None,
) -> Callable[[Builder], Builder]:
    """Declare the :class:`Task` the decorated builder builds (``column``: its ``table_column``);
    the builder is returned as it is and :func:`declared` gives its task::

        @task(NAME, "Profile Generation", group="t1", column=1, questions=GENERATED, app=APP)
        def build(g: Genome, o: BuildOptions) -> Built: ...
    """

    def declare(build: Builder) -> Builder:
        _DECLARED[build] = Task(name, build, label, group, questions, column, judge, app)
        return build

    return declare


def declared(build: Builder) -> Task:
    """The task :func:`task` declared for ``build``."""
    try:
        return _DECLARED[build]
    except KeyError:
        raise KeyError(f"{build.__qualname__} is not declared with @task") from None
