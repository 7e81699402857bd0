"""The tasks, found by name: the six of the paper first, in its order, then any registered later.

A task module outside the package registers its :class:`~humanllm.tasks.task.Task` when it is
imported (a run imports the modules its config lists under ``plugins:``)::

    from humanllm.tasks.registry import register_task
    register_task(TASK)

The six built-in tasks (:mod:`humanllm.tasks.defs`) are loaded on first use, so importing this
module is cheap and free of import cycles.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from humanllm.tasks.task import Task

_TASKS: dict[str, Task] = {}
_loaded = False


def _builtins() -> None:
    global _loaded
    if _loaded:
        return
    from humanllm.tasks.defs import BUILTIN

    _loaded = True
    plugins = dict(_TASKS)  # registered while the built-ins were being imported
    _TASKS.clear()
    _TASKS.update({t.name: t for t in BUILTIN})
    for name, task in plugins.items():
        _TASKS.setdefault(name, task)


def register_task(task: Task, *, replace: bool = False) -> Task:
    """Add ``task`` after the tasks already known; a second task of the same name is an error
    unless ``replace`` (which keeps the first one's place)."""
    _builtins()
    known = _TASKS.get(task.name)
    if known is not None and known is not task and not replace:
        raise ValueError(f"a task named {task.name!r} is already registered")
    _TASKS[task.name] = task
    return task


def unregister_task(name: str) -> None:
    """Forget a registered task (tests); unknown names are ignored."""
    _builtins()
    _TASKS.pop(name, None)


@contextmanager
def registered(task: Task) -> Iterator[Task]:
    """``task`` registered for the duration of a ``with`` block (tests)."""
    register_task(task)
    try:
        yield task
    finally:
        unregister_task(task.name)


def tasks() -> tuple[Task, ...]:
    """Every task, in the paper's order and then in order of registration."""
    _builtins()
    return tuple(_TASKS.values())


def task_names() -> tuple[str, ...]:
    return tuple(_TASKS) if _loaded else tuple(t.name for t in tasks())


def get_task(name: str) -> Task:
    _builtins()
    try:
        return _TASKS[name]
    except KeyError:
        raise KeyError(f"no task named {name!r} (known: {', '.join(_TASKS)})") from None


def in_domain_tasks() -> tuple[str, ...]:
    """Tasks asked as in-domain multiple choice, in Table 1's column order (unplaced ones after,
    in registry order)."""
    asked = [t for t in tasks() if t.questions is not None]
    last = len(asked)
    ordered = sorted(
        enumerate(asked),
        key=lambda it: (it[1].table_column if it[1].table_column is not None else last, it[0]),
    )
    return tuple(t.name for _, t in ordered)


def task_group(group: str) -> tuple[str, ...]:
    return tuple(t.name for t in tasks() if t.group == group)


def source_files() -> list[Path]:
    """The module file of every task's builder (part of the ``tasks`` stage's version)."""
    out: list[Path] = []
    for t in tasks():
        module = sys.modules.get(getattr(t.build, "__module__", "") or "")
        file = getattr(module, "__file__", None)
        if file and Path(file) not in out:
            out.append(Path(file))
    return out
