"""Output schemas of the curation stages: what the model must return, validated on every reply."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def words(text: str) -> int:
    return len(text.split())


class Cleaned(_Out):
    """Stage ``clean``: the record rewritten without HTML, URLs, non-English text, formatting noise
    (Twitter: hashtags and mentions) and with private information replaced by fictitious data."""

    text: str = Field(min_length=1, description="The rewritten text.")


class Labels(_Out):
    """Stage ``label``: quality (high = detailed personal experiences, inner thoughts and social
    behaviour, no heavy advertising or noise) and harmfulness (violence, pornography, privacy)."""

    quality: Literal["high", "medium", "low"]
    harmful: bool
    rationale: str = Field(default="", max_length=300, description="One short sentence.")


class Story(_Out):
    summary: str = Field(min_length=1, max_length=300, description="One sentence.")
    narrative: str = Field(
        min_length=1, max_length=1000, description="What happened, in a short paragraph."
    )


class UserPortrait(_Out):
    """Stage ``users``: the four levels of the paper's user component (§2.2)."""

    persona: str = Field(
        min_length=1,
        max_length=900,
        description="Fewer than 100 words: essential identity and key traits.",
    )
    profile: str = Field(
        min_length=1,
        max_length=3500,
        description="100-400 words: background, interests, significant experiences.",
    )
    stories: list[Story] = Field(min_length=1, max_length=8)
    writing_style: str = Field(min_length=1, max_length=800, description="How this person writes.")


def check_portrait_lengths(
    p: UserPortrait, persona_max: int = 99, profile_min: int = 100, profile_max: int = 400
) -> None:
    """The paper's word limits; raises ValueError (the runner re-asks with a new seed)."""
    n = words(p.persona)
    if n > persona_max:
        raise ValueError(f"persona has {n} words; it must have fewer than {persona_max + 1}")
    n = words(p.profile)
    if not profile_min <= n <= profile_max:
        raise ValueError(f"profile has {n} words; it must have {profile_min}-{profile_max}")


class Background(_Out):
    time: str = Field(
        max_length=120, description="When it happens (as precise as the record allows)."
    )
    place: str = Field(max_length=120, description="Where it happens.")


class Character(_Out):
    name: str = Field(
        min_length=1, max_length=80, description="Name or role, e.g. 'the author', 'her sister'."
    )
    description: str = Field(default="", max_length=300, description="Who they are in this story.")


class Scenario(_Out):
    """Stage ``scenarios``: the record as a story (background, characters, plots)."""

    background: Background
    characters: list[Character] = Field(min_length=1, max_length=12)
    plots: str = Field(
        min_length=1, max_length=1000, description="The sequence of events, as a short narrative."
    )


QAType = Literal["action", "mental_state", "social_reasoning"]


class QA(_Out):
    scenario: str = Field(
        min_length=1,
        max_length=1000,
        description="The situation, refined so that it does not reveal the answer.",
    )
    question: str = Field(min_length=1, max_length=300)
    answer: str = Field(min_length=1, max_length=600)
    type: QAType


class SocialQA(_Out):
    """Stage ``social_qa``: several scenario-question-answer triplets per record."""

    items: list[QA] = Field(min_length=1, max_length=6)

    @field_validator("items")
    @classmethod
    def _distinct_questions(cls, items: list[QA]) -> list[QA]:
        seen = {q.question.strip().lower() for q in items}
        if len(seen) != len(items):
            raise ValueError("questions must be distinct")
        return items
