"""Configuration of the curation stages (§2.1 rewriting and labels, §2.2 synthesis, §2.3 QC)."""

from __future__ import annotations

from pydantic import Field

from humanllm.fields import MaxTokens, Penalty, StrictModel, Temperature, TopP


class LLMStageConfig(StrictModel):
    """What every LLM stage chooses: a named backend from ``llm.backends`` and its sampling."""

    backend: str = Field(default="embedded", description="Name of a backend in llm.backends.")
    temperature: Temperature = 0.7
    top_p: TopP = 1.0
    max_tokens: MaxTokens = 1024
    frequency_penalty: Penalty = Field(
        default=0.0, description="OpenAI frequency penalty (small models loop without one)."
    )
    presence_penalty: Penalty = Field(default=0.0, description="OpenAI presence penalty.")


class CleanConfig(LLMStageConfig):
    max_input_chars: int = Field(
        default=6000,
        gt=0,
        description="Longer records are rewritten in parts of at most this many characters "
        "(and at most what max_tokens can hold: ~2.7 characters a token), split at paragraph or "
        "sentence ends, and joined (counted in _SUCCESS.json).",
    )


class LabelConfig(LLMStageConfig):
    max_tokens: MaxTokens = 128
    keep_quality: list[str] = Field(
        default_factory=lambda: ["high"], description="Quality labels kept (the paper: high only)."
    )
    drop_harmful: bool = Field(
        default=True, description="Drop records labelled harmful (the paper: yes)."
    )


class UsersConfig(LLMStageConfig):
    max_tokens: MaxTokens = 1500
    context_chars: int = Field(
        default=12_000,
        gt=0,
        description="Budget for a user's concatenated records. Over budget: records are sampled evenly "
        "across time (always the first and the last), each cut to an equal share, in chronological order.",
    )
    persona_max_words: int = Field(default=99, description="Persona: fewer than 100 words.")
    profile_min_words: int = Field(default=100)
    profile_max_words: int = Field(default=400)


class ScenariosConfig(LLMStageConfig):
    max_tokens: MaxTokens = 800


class SocialQAConfig(LLMStageConfig):
    """Three triplets per record, one per type (action, mental state, social reasoning); a
    leaking scenario is refined by a second request with the same settings."""

    max_tokens: MaxTokens = 1200


class QCConfig(LLMStageConfig):
    """The judge (the paper: Qwen2.5-72B). Keep an item when overall > min_overall and every other
    metric > min_other. Every metric is oriented so that HIGHER IS BETTER (a high hallucination
    score means faithful; a high leakage score means the answer is NOT given away)."""

    temperature: Temperature = 0.0
    max_tokens: MaxTokens = 900
    min_overall: float = Field(default=8, description="Keep when overall > this (the paper: 8).")
    min_other: float = Field(
        default=7, description="Keep when every other metric > this (the paper: 7)."
    )


class CurationConfig(StrictModel):
    max_users_per_source: int | None = Field(
        default=None,
        ge=1,
        description="Curate at most this many users per source (the first by user id); none: all. For quick runs.",
    )
    max_records_per_user: int | None = Field(
        default=None,
        ge=1,
        description="Curate at most this many records per user (the most recent); none: all. For quick runs.",
    )
    clean: CleanConfig = Field(default_factory=CleanConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    users: UsersConfig = Field(default_factory=UsersConfig)
    scenarios: ScenariosConfig = Field(default_factory=ScenariosConfig)
    social_qa: SocialQAConfig = Field(default_factory=SocialQAConfig)
    qc: QCConfig = Field(default_factory=QCConfig)
