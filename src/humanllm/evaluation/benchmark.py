"""What the ``evaluate`` stage asks every model: :class:`Benchmark` objects, found by name.

A benchmark owns its config section (``evaluate.<name>``, a pydantic model), reading its
questions (:meth:`Benchmark.load`), asking one model (:meth:`Benchmark.ask`), scoring the answers
into rows of ``results.json`` and prediction logs (:meth:`Benchmark.score`) and its tables in
``report.md`` (:meth:`Benchmark.tables`). The stage loops over :func:`benchmarks` in their
registration order (the built-ins first: in-domain multiple choice, ToMBench, MotiveBench, the
judged applications); the report prints their tables by ``report_order``.

A benchmark outside the package subclasses :class:`BaseBenchmark` in a module that calls
:func:`register_benchmark` on import, and the run lists that module under ``plugins:``. It runs
when ``evaluate:`` has a section under its name; its rows land in ``results.json`` under its name.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from humanllm.evaluation.results import EvalResults, fill_rows
from humanllm.evaluation.tables import Table
from humanllm.llm.base import Backend, Sampling
from humanllm.llm.cache import RequestCache
from humanllm.llm.config import LLMConfig, RunnerConfig
from humanllm.llm.prompts import PromptTemplate
from humanllm.stage import StageError

if TYPE_CHECKING:
    from humanllm.evaluation.config import EvaluateConfig
    from humanllm.evaluation.loglik import LoglikCache

#: Modules of the built-in benchmarks, in the stage's order of asking.
BUILTIN = (
    "humanllm.evaluation.bench_indomain",
    "humanllm.evaluation.bench_tombench",
    "humanllm.evaluation.bench_motivebench",
    "humanllm.evaluation.bench_applications",
)


@dataclass
class EvalContext:
    """One run of the stage: its config, folders, caches and the results being filled."""

    ecfg: EvaluateConfig
    llm: LLMConfig
    root: Path  # the run folder
    out_dir: Path  # eval/
    genome_dir: Path
    cache: RequestCache
    llcache: LoglikCache
    runner_cfg: RunnerConfig
    results: EvalResults

    @property
    def tasks_dir(self) -> Path:
        return self.root / "tasks"

    def notice(self, text: str) -> None:
        self.results.notices.append(text)

    def sampling(
        self, max_tokens: int, *, temperature: float | None = None, top_p: float | None = None
    ) -> Sampling:
        """How the evaluated models answer: the run's ``evaluate.temperature``, ``top_p`` (unless
        given) and ``seed``, at most ``max_tokens``."""
        e = self.ecfg
        return Sampling(
            temperature=e.temperature if temperature is None else temperature,
            top_p=e.top_p if top_p is None else top_p,
            max_tokens=max_tokens,
            seed=e.seed,
        )


@dataclass
class Scored:
    """One model's rows of ``results.json`` and its prediction logs (file stem -> rows)."""

    rows: list[BaseModel] = field(default_factory=list)
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@runtime_checkable
class Benchmark(Protocol):
    @property
    def name(self) -> str:
        """Its key under ``evaluate:`` and in ``results.json``."""

    @property
    def config_model(self) -> type[BaseModel] | None:
        """The model of ``evaluate.<name>``."""

    @property
    def report_order(self) -> float:
        """Where its tables sit in the report (built-ins: 1 to 10)."""

    @property
    def improvement(self) -> tuple[str, tuple[str, ...]] | None:
        """``(average field, key fields)`` of its rows for ``improvement_pct``; None: none."""

    def templates(self) -> Sequence[PromptTemplate]: ...
    def config(self, ctx: EvalContext) -> Any | None: ...
    def load(self, ctx: EvalContext) -> Any | None: ...
    async def prepare(self, ctx: EvalContext, data: Any) -> Any: ...
    async def ask(self, ctx: EvalContext, data: Any, model: str, backend: Backend) -> Any: ...
    def score(self, ctx: EvalContext, data: Any, model: str, answers: Any) -> Scored: ...
    async def finish(self, ctx: EvalContext, data: Any) -> list[tuple[str, Scored]]: ...
    def tables(self, res: EvalResults) -> list[Table]: ...
    def appendix(self, res: EvalResults) -> list[str]: ...
    def summary(self, data: Any) -> dict[str, Any]: ...


class BaseBenchmark(ABC):
    """Defaults for everything but :meth:`load`, :meth:`ask` and :meth:`score` (abstract: a
    subclass without one cannot be instantiated) and :meth:`tables` (default: none).

    ``load`` returns what every model is asked (read before any model is opened), or None to
    skip the benchmark (after a :meth:`EvalContext.notice` saying why)."""

    name: ClassVar[str] = ""
    config_model: ClassVar[type[BaseModel] | None] = None
    report_order: ClassVar[float] = 100.0
    improvement: ClassVar[tuple[str, tuple[str, ...]] | None] = ("average", ())

    def templates(self) -> Sequence[PromptTemplate]:
        return ()

    def config(self, ctx: EvalContext) -> Any:
        """This benchmark's section of ``evaluate:``."""
        return ctx.ecfg.benchmark_config(self.name)

    @abstractmethod
    def load(self, ctx: EvalContext) -> Any | None: ...

    async def prepare(self, ctx: EvalContext, data: Any) -> Any:
        return data

    @abstractmethod
    async def ask(self, ctx: EvalContext, data: Any, model: str, backend: Backend) -> Any: ...

    @abstractmethod
    def score(self, ctx: EvalContext, data: Any, model: str, answers: Any) -> Scored: ...

    async def finish(self, ctx: EvalContext, data: Any) -> list[tuple[str, Scored]]:
        return []

    def tables(self, res: EvalResults) -> list[Table]:
        return []

    def appendix(self, res: EvalResults) -> list[str]:
        return []

    def summary(self, data: Any) -> dict[str, Any]:
        return {}


T = TypeVar("T")


def read_or_skip(
    ctx: EvalContext,
    name: str,
    path: str | None,
    skipped: str,
    read: Callable[[str], T],
    errors: type[Exception] | tuple[type[Exception], ...] = (OSError, ValueError),
) -> T | None:
    """``read(path)``; without a path, None after the notice ``skipped`` (which says what to set).
    A read that raises one of ``errors`` is a stage error naming ``evaluate.<name>``."""
    if path is None:
        ctx.notice(skipped)
        return None
    try:
        return read(path)
    except errors as e:
        raise StageError(f"evaluate.{name}: {e}") from e


_REGISTRY: dict[str, Benchmark] = {}
_builtins_loaded = False


def register_benchmark(bench: Benchmark, *, replace: bool = False) -> Benchmark:
    """Add ``bench`` under its name (a second one of that name is an error unless ``replace``)."""
    if not bench.name:
        raise ValueError(f"{type(bench).__name__}: a benchmark needs a name")
    if bench.name in _REGISTRY and not replace and _REGISTRY[bench.name] is not bench:
        raise ValueError(f"a benchmark named {bench.name!r} is already registered")
    _REGISTRY[bench.name] = bench
    return bench


def unregister_benchmark(name: str) -> None:
    _REGISTRY.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN:
            importlib.import_module(module)


def benchmarks() -> list[Benchmark]:
    """Every registered benchmark: the built-ins in :data:`BUILTIN` order, then the others in
    registration order."""
    _load_builtins()
    return list(_REGISTRY.values())


def get_benchmark(name: str) -> Benchmark:
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"no benchmark named {name!r} (registered: {', '.join(_REGISTRY) or 'none'}; a "
            "module outside the package registers one when listed under plugins:)"
        ) from None


def fill_improvements(res: EvalResults) -> None:
    """``improvement_pct`` of every benchmark's rows over the row of the model's base."""
    bases = {m.name: m.base for m in res.models}
    for b in benchmarks():
        if b.improvement is not None:
            avg, key = b.improvement
            fill_rows(res.rows(b.name), bases, avg, key)
