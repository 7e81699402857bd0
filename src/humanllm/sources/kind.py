"""Source kinds: one :class:`SourceKind` per kind of input, found by name in one registry.

A kind is owned by its module (``humanllm.sources.reddit`` and the other built-in readers, or a
user's module named in the config's ``plugins:``), which builds its :class:`SourceKind` and calls
:func:`register_source_kind` when imported, or decorates its reader with :func:`source_kind`.
Everything the package needs to know about a kind is there: how its entries in ``sources:`` are
validated, how it is read, how it is filtered, how the model calls it, and which of its fields
are paths. See ``docs/extending.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    import polars as pl

    from humanllm.sources import Chunk

#: ``flag(records, rules, source) -> records + reason``: see :mod:`humanllm.filters`.
RuleSet = Callable[..., "pl.LazyFrame"]
#: ``read(source) -> chunks``: see :mod:`humanllm.sources`.
Reader = Callable[[Any], "Iterator[Chunk]"]

#: The package's own kinds, imported (and so registered) on the first lookup, in this order.
BUILTIN = ("reddit", "twitter", "blogger", "amazon", "jsonl")


def _resolve(ref: Any) -> Any:
    """A value, or ``"package.module:name"`` imported when first needed (so a source module can
    name its rules in ``filters/`` without importing them, which import it)."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class SourceKind:
    """One kind of source, and everything the stages need to know about it."""

    name: str
    """The ``kind:`` of its entries in ``sources:``."""
    config: type[BaseModel]
    """Pydantic model of one ``sources:`` entry; has ``kind: Literal[name]``, ``path``, ``name``
    and ``batch_size`` (subclass :class:`humanllm.sources.config.SourceBase`)."""
    read: Reader
    """Stage ``ingest``: the entry -> chunks of records and rejects (see :mod:`humanllm.sources`)."""
    platform: str
    """How the model is told what a record is ("Reddit post", "tweet", ...)."""
    rules: RuleSet | str
    """Stage ``filter``: the rules run on each ``records/`` shard (or ``"module:name"``)."""
    rules_config: type[BaseModel] | None = None
    """Pydantic model of its thresholds under ``filter.<name>`` (None: it has none)."""
    narrative: bool = True
    """Its records become scenarios and social QA (the paper: every source but Amazon)."""
    path_fields: tuple[str, ...] = ("path",)
    """Fields of an entry holding paths, resolved against the config file's folder."""
    comments: Reader | None = None
    """Stage ``ingest``: what users wrote under posts (``comments/``), if the kind has that."""
    fused: Callable[..., Iterator[tuple[pl.DataFrame, pl.DataFrame]]] | str | None = None
    """Stage ``filter``: ``read_filtered(source, rules) -> (kept, rejects)`` batches straight
    from the raw files, used while its rule group's ``fused`` is on."""
    early_reasons: tuple[str, ...] | str = ()
    """Rejects of these reasons come first in the frame order (see ``filters.units``); or
    ``"module:name"`` of that tuple."""
    item_kcore: bool = False
    """The filter also runs the paper's item/user k-core over the whole source, with the
    thresholds of ``filter.amazon`` (its rules give records an ``_item`` column)."""
    acts_as: Callable[[Any], str | None] | None = None
    """An entry that is filtered and named like another kind (``jsonl``'s ``filter_as``)."""

    def flag(self) -> RuleSet:
        fn: RuleSet = _resolve(self.rules)
        return fn

    def fused_reader(self) -> Callable[..., Iterator[tuple[pl.DataFrame, pl.DataFrame]]]:
        assert self.fused is not None
        fn: Callable[..., Iterator[tuple[pl.DataFrame, pl.DataFrame]]] = _resolve(self.fused)
        return fn

    def first_reasons(self) -> tuple[str, ...]:
        reasons: tuple[str, ...] = tuple(_resolve(self.early_reasons))
        return reasons


_REGISTRY: dict[str, SourceKind] = {}
_LOADED = False


def register_source_kind(kind: SourceKind) -> SourceKind:
    """Add a kind (from the module that owns it). Registering a name twice is an error, unless it
    comes from the same module again (a module imported or reloaded twice)."""
    old = _REGISTRY.get(kind.name)
    if old is not None and _owner(old) != _owner(kind):
        raise ValueError(
            f"source kind {kind.name!r} is already registered (by {_owner(old)[0]}); "
            "give the new kind another name"
        )
    fields = getattr(kind.config, "model_fields", {})
    if "kind" not in fields or "path" not in fields:
        raise ValueError(
            f"source kind {kind.name!r}: its config needs the fields 'kind' and 'path'"
        )
    _REGISTRY[kind.name] = kind
    return kind


def source_kind(config: type[BaseModel], **fields: Any) -> Callable[[Reader], Reader]:
    """Register the decorated function as the reader of a kind: ``SourceKind(name, config,
    read=<it>, **fields)``, named by the default of ``config``'s ``kind`` field::

        @source_kind(ForumSource, platform="forum message", rules=flag)
        def read(cfg: ForumSource) -> Iterator[Chunk]: ...
    """
    name = getattr(config, "model_fields", {}).get("kind")
    if name is None or not isinstance(name.default, str):
        raise ValueError(f"{config.__qualname__}: a source config needs kind: Literal[...] = name")

    def register(read: Reader) -> Reader:
        register_source_kind(SourceKind(name=name.default, config=config, read=read, **fields))
        return read

    return register


def _owner(kind: SourceKind) -> tuple[str, str]:
    return kind.config.__module__, kind.config.__qualname__


def _load_builtins() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for name in BUILTIN:
            importlib.import_module(f"humanllm.sources.{name}")


def source_kinds() -> dict[str, SourceKind]:
    """Every registered kind by name: the built-in ones first, then the rest as registered."""
    _load_builtins()
    first = {n: _REGISTRY[n] for n in BUILTIN if n in _REGISTRY}
    return first | {n: k for n, k in _REGISTRY.items() if n not in first}


def get_source_kind(name: str) -> SourceKind:
    """The kind of that name; a ``KeyError`` whose message names the known kinds."""
    kinds = source_kinds()
    if name not in kinds:
        raise KeyError(f"unknown source kind {name!r} (known: {', '.join(kinds)})")
    return kinds[name]


def kind_of(source: Any) -> SourceKind:
    """The kind that filters and names a ``sources:`` entry: its own, or the one it acts as."""
    own = get_source_kind(source.kind)
    other = own.acts_as(source) if own.acts_as is not None else None
    return get_source_kind(other) if other else own


def platform_of(kind: str) -> str:
    """How the model is told what a record of that kind is (an unknown kind: as ``jsonl``)."""
    kinds = source_kinds()
    return (kinds.get(kind) or kinds["jsonl"]).platform


def narrative_kinds() -> tuple[str, ...]:
    """The kinds whose records become scenarios and social QA."""
    return tuple(k.name for k in source_kinds().values() if k.narrative)
