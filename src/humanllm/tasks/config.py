"""Configuration of the ``tasks`` stage: which training data is built from the genome, how much, and
how it is split (§3.1-3.2) — plus the ablation variants of §4.4."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The task (and folder) of the ``raw`` variant.
RAW_TASK = "text_completion"
#: The ablation groups of tasks (§4.4, Q3); a task says which it belongs to (``Task.group``).
GROUPS = ("t1", "t2")


def __getattr__(name: str) -> Any:
    """``TASKS`` (every registered task's name, the paper's six first, in its order) and
    ``TASK_GROUPS`` (the names of each ablation group), from the task registry."""
    if name not in ("TASKS", "TASK_GROUPS"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from humanllm.tasks import registry

    if name == "TASKS":
        return registry.task_names()
    return {g: registry.task_group(g) for g in GROUPS}


Variant = Literal["full", "raw", "gen-mix", "t1", "t2"]


class TasksConfig(BaseModel):
    """Six tasks from the genome, balanced across tasks and sources, split by user.

    Variants change the *training* split only; every variant writes the same six-task test split,
    so ablation models are evaluated on the same questions (§4.4).
    """

    model_config = ConfigDict(extra="forbid")

    variant: Variant = Field(
        default="full",
        description="full: the six tasks; t1: profile, scenario, social QA; t2: writing, commenting, "
        "item selection; raw: text completion on the raw records (ingest output) split at a random "
        "point; gen-mix: the six tasks mixed with general_data (ours : general = 1 - general_fraction : "
        "general_fraction, the general share split equally over the files).",
    )
    total_train: int | None = Field(
        default=None,
        ge=1,
        description="Training rows to keep (the paper: 1,195,717); none keeps everything available. "
        "Each task×source cell gets an equal share; cells with fewer rows give all they have and the "
        "rest is shared among the larger cells.",
    )
    total_test: int | None = Field(
        default=None,
        ge=1,
        description="Test rows to keep (the paper: 132,869), balanced like total_train.",
    )
    test_fraction: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Share of each source's users whose rows go to test (at least one user when a "
        "source has two or more and the fraction is > 0). No test user appears in training.",
    )
    seed: int = Field(default=42, description="Seed of the user split, sampling and candidates.")
    bucket_records: int = Field(
        default=20_000,
        ge=1,
        description="Unit of work: the stage reads and builds the genome one user bucket at a time "
        "(every row of a user in one bucket), ceil(records / bucket_records) buckets, so its memory "
        "follows this size, not the corpus. The files written do not depend on it.",
    )
    history_records: int = Field(
        default=3,
        ge=1,
        description="Writing imitation and commenting: the user's most recent earlier records shown.",
    )
    history_chars: int = Field(
        default=1000,
        ge=50,
        description="Each earlier record shown is cut to this many characters.",
    )
    history_items: int = Field(
        default=10, ge=1, description="Item selection: most recent earlier purchases shown."
    )
    n_candidates: int = Field(
        default=20,
        ge=2,
        le=26,
        description="Item selection: candidates per question (the true next item + random items from "
        "the source's item pool the user never reviewed); fewer when the pool is smaller.",
    )
    min_text_chars: int = Field(
        default=40,
        ge=2,
        description="Raw variant: shortest record (characters) that is split into prompt and completion.",
    )
    general_data: list[str] = Field(
        default_factory=list,
        description="gen-mix: general instruction data files (.jsonl or .parquet) in ShareGPT "
        "(conversations), OpenAI (messages), Alpaca (instruction/input/output) or Orca "
        "(system_prompt/question/response) form, e.g. SmolTalk and OpenOrca. Relative paths resolve "
        "against the config file's folder.",
    )
    general_fraction: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="gen-mix: share of general data in the training mix (the paper: 0.25 + 0.25). "
        "total_train counts our rows; the general rows come on top, split equally over the files.",
    )

    @model_validator(mode="after")
    def _general_data_iff_gen_mix(self) -> TasksConfig:
        if self.variant == "gen-mix" and not self.general_data:
            raise ValueError(
                "variant gen-mix needs general_data: the paths of general instruction data files "
                "(e.g. SmolTalk and OpenOrca as .jsonl or .parquet)"
            )
        if self.general_data and self.variant != "gen-mix":
            raise ValueError(
                f"general_data is used by variant gen-mix only (variant is {self.variant})"
            )
        return self

    def train_tasks(self) -> tuple[str, ...]:
        """Tasks (folders) of the training split under this variant."""
        from humanllm.tasks import registry

        if self.variant == "raw":
            return (RAW_TASK,)
        if self.variant in GROUPS:
            return registry.task_group(self.variant)
        return registry.task_names()
