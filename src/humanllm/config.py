"""The run configuration: YAML validated by pydantic, with ``--set dotted.key=value`` overrides.

A config holding only ``sources:`` is valid; every other group has defaults (the paper's numbers).
Relative source paths resolve against the folder of the config file.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from humanllm.curation.config import CurationConfig
from humanllm.evaluation.config import EvaluateConfig
from humanllm.evaluation.config import resolve_paths as _resolve_eval_paths
from humanllm.fields import StrictModel
from humanllm.filters.config import FilterConfig
from humanllm.llm.config import LLMConfig
from humanllm.sources.config import SourceConfig
from humanllm.sources.kind import source_kinds
from humanllm.tasks.config import TasksConfig
from humanllm.train.config import MergeConfig, TrainConfig

_NAME = re.compile(r"[A-Za-z0-9_]+")


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message says where and why."""


class ExecutorConfig(StrictModel):
    """How a stage's units are run. Never part of a stage's fingerprint: any setting gives the
    same outputs."""

    workers: int = Field(
        default=1,
        ge=1,
        description="Processes running units at once (1: in this process, units side by side "
        "sharing one model backend; more: a pool of that many processes, each with its own).",
    )
    rows_in_flight: int = Field(
        default=2000,
        ge=1,
        description="In one process, units start while the input rows of those running are "
        "below this (at least one unit runs): bounds memory, keeps enough requests in flight.",
    )
    records_per_unit: int = Field(
        default=5000,
        ge=1,
        description="Size of a unit in records: a user bucket of `users` and `qc` (labeled/'s "
        "records divided by this; all records of a user are in one bucket), and the most rows "
        "of an input shard one unit of clean/label/scenarios/social_qa takes (a bigger shard is "
        "cut into row ranges).",
    )
    kind: Literal["local", "ray"] = Field(
        default="local",
        description="'local': units run on this machine (see `workers`); 'ray': each unit is a "
        "Ray task on a cluster (the run folder must be on a filesystem every node sees; "
        "`pip install -e '.[ray]'`).",
    )
    address: str = Field(
        default="auto",
        description="kind ray: the cluster to join: 'auto' (the one `ray start` runs here, or "
        "RAY_ADDRESS), 'host:port', 'ray://host:10001', or 'local' (start Ray inside this run).",
    )
    num_cpus: float = Field(
        default=1.0,
        gt=0,
        description="kind ray: CPUs one unit task reserves (units of a model served elsewhere "
        "mostly wait: fractions pack more units per node).",
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        description="kind ray: times a unit is run again when its worker process or node dies "
        "(a unit that raises an error is not retried: the stage stops, as on one machine).",
    )


def import_plugins(modules: object) -> None:
    """Import the config's ``plugins:`` modules, which register source kinds, tasks or benchmarks
    in their registries. Raises :class:`ConfigError` naming a module that cannot be imported."""
    if modules is None:
        return
    if not isinstance(modules, list) or not all(isinstance(m, str) and m for m in modules):
        raise ConfigError(f"plugins: expected a list of module names, got {modules!r}")
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # any failure while importing the user's module
            raise ConfigError(
                f"plugins: cannot import module {name!r} ({type(e).__name__}: {e})"
            ) from e


class RunConfig(StrictModel):
    plugins: list[str] = Field(
        default_factory=list,
        description="Python modules imported before the rest of the config is checked; each "
        "registers source kinds, tasks or benchmarks (see docs/extending.md).",
    )
    sources: list[SourceConfig] = Field(
        min_length=1, description="Input files, one entry per source."
    )
    filter: FilterConfig = Field(default_factory=FilterConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    curation: CurationConfig = Field(default_factory=CurationConfig)
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    merge: MergeConfig = Field(default_factory=MergeConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)

    @model_validator(mode="before")
    @classmethod
    def _import_plugins(cls, data: Any) -> Any:
        # here too (not only in validate_config): worker processes re-validate the dumped config
        if isinstance(data, dict):
            import_plugins(data.get("plugins"))
        return data

    @model_validator(mode="after")
    def _unique_source_names(self) -> RunConfig:
        seen: set[str] = set()
        for src in self.sources:
            name = src.source_name
            if not _NAME.fullmatch(name):
                raise ValueError(f"source name {name!r}: use letters, digits and underscores only")
            if name in seen:
                raise ValueError(
                    f"source name {name!r} is used twice; give each source its own 'name'"
                )
            seen.add(name)
        return self

    def source_names(self) -> list[str]:
        return [s.source_name for s in self.sources]

    def section_hash(self, *keys: str) -> str:
        """Stable hash of the named sections (what a stage depends on)."""
        data = self.model_dump(mode="json")
        picked: dict[str, Any] = {}
        for key in sorted(keys):  # dotted keys pick a sub-section: "curation.clean"
            node: Any = data
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            picked[key] = node
        blob = json.dumps(picked, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _parse_value(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` override in place (list items by index: ``sources.0.path=x``)."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected dotted.key=value")
    key, raw = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {assignment!r}: empty key")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"--set {assignment!r}: no list item {part!r} under {'.'.join(parts[:i]) or 'root'}"
                )
            node = node[int(part)]
        else:
            if part not in node or node[part] is None:
                node[part] = [] if nxt.isdigit() else {}
            node = node[part]
    last = parts[-1]
    value = _parse_value(raw)
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"--set {assignment!r}: no list item {last!r}")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"--set {assignment!r}: {'.'.join(parts[:-1])} is not a mapping")


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    kinds = source_kinds()
    for src in data.get("sources") or []:
        if not isinstance(src, dict) or src.get("kind") not in kinds:
            continue  # not a source of a known kind: validation says so
        for key in kinds[src["kind"]].path_fields:
            val = src.get(key)
            if isinstance(val, str) and val and not Path(val).expanduser().is_absolute():
                src[key] = str((base / val).resolve())
            elif isinstance(val, str):
                src[key] = str(Path(val).expanduser())
    tasks = data.get("tasks")
    if isinstance(tasks, dict) and isinstance(tasks.get("general_data"), list):
        tasks["general_data"] = [
            str((base / Path(p).expanduser()).resolve()) if isinstance(p, str) else p
            for p in tasks["general_data"]
        ]
    if isinstance(data.get("evaluate"), dict):
        _resolve_eval_paths(data["evaluate"], base)


def _format_validation(err: ValidationError, origin: str) -> str:
    lines = [f"{origin}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read, override and validate a config file. Raises :class:`ConfigError` with a clear message."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror or e})") from e
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    for assignment in overrides or []:
        apply_override(data, assignment)
    try:  # before the paths: a plugin's kind names its own path fields
        import_plugins(data.get("plugins"))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e
    _resolve_paths(data, path.resolve().parent)
    return validate_config(data, str(path))


def validate_config(data: dict[str, Any], origin: str = "<config>") -> RunConfig:
    try:
        import_plugins(data.get("plugins"))
    except ConfigError as e:
        raise ConfigError(f"{origin}: {e}") from e
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation(e, origin)) from e


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
