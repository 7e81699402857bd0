"""Output schemas of the curation stages: what the model must return, validated on every reply."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, create_model, model_validator

from humanllm.fields import NonEmptyStr, StrictModel


def words(text: str) -> int:
    return len(text.split())


class Cleaned(StrictModel):
    """Stage ``clean``: the record rewritten without HTML, URLs, non-English text, formatting noise
    (Twitter: hashtags and mentions) and with private information replaced by fictitious data."""

    text: NonEmptyStr = Field(description="The rewritten text.")


class Labels(StrictModel):
    """Stage ``label``: quality (high = detailed personal experiences, inner thoughts and social
    behaviour, no heavy advertising or noise) and harmfulness (violence, pornography, privacy)."""

    quality: Literal["high", "medium", "low"]
    harmful: bool
    rationale: str = Field(default="", max_length=300, description="One short sentence.")


class Story(StrictModel):
    summary: NonEmptyStr = Field(max_length=300, description="One sentence.")
    narrative: NonEmptyStr = Field(
        max_length=1000, description="What happened, in a short paragraph."
    )


class UserPortrait(StrictModel):
    """Stage ``users``: the four levels of the paper's user component (§2.2)."""

    persona: NonEmptyStr = Field(
        max_length=900,
        description="Fewer than 100 words: essential identity and key traits.",
    )
    profile: NonEmptyStr = Field(
        max_length=3500,
        description="100-400 words: background, interests, significant experiences.",
    )
    stories: list[Story] = Field(min_length=1, max_length=8)
    writing_style: NonEmptyStr = Field(max_length=800, description="How this person writes.")


#: Characters per English word (with its space), bounds used to turn word limits into the string
#: lengths a grammar can enforce: a profile of at least N words has at least ~6N characters, one
#: of at most M words at most ~8M.
CHARS_PER_WORD_MIN = 6
CHARS_PER_WORD_MAX = 8


def portrait_model(persona_max: int, profile_min: int, profile_max: int) -> type[UserPortrait]:
    """:class:`UserPortrait` with the configured word limits also as character bounds, so a
    grammar-constrained model cannot end the profile after two words or ramble past the limit
    (the word counts are still checked by :func:`check_portrait_lengths`)."""
    persona_hi = min(900, persona_max * CHARS_PER_WORD_MAX)
    profile_lo = max(1, profile_min * CHARS_PER_WORD_MIN)
    profile_hi = max(profile_lo, min(3500, profile_max * CHARS_PER_WORD_MAX))
    fields: dict = {
        "persona": (
            str,
            Field(
                min_length=1,
                max_length=persona_hi,
                description=f"Fewer than {persona_max + 1} words: essential identity and key traits.",
            ),
        ),
        "profile": (
            str,
            Field(
                min_length=profile_lo,
                max_length=profile_hi,
                description=f"{profile_min}-{profile_max} words: background, interests, "
                "significant experiences.",
            ),
        ),
    }
    model: type[UserPortrait] = create_model("UserPortrait", __base__=UserPortrait, **fields)
    return model


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


class Background(StrictModel):
    time: str = Field(
        max_length=120, description="When it happens (as precise as the record allows)."
    )
    place: str = Field(max_length=120, description="Where it happens.")


class Character(StrictModel):
    name: NonEmptyStr = Field(
        max_length=80, description="Name or role, e.g. 'the author', 'her sister'."
    )
    description: str = Field(default="", max_length=300, description="Who they are in this story.")


class Scenario(StrictModel):
    """Stage ``scenarios``: the record as a story (background, characters, plots)."""

    background: Background
    characters: list[Character] = Field(min_length=1, max_length=12)
    plots: NonEmptyStr = Field(
        max_length=1000, description="The sequence of events, as a short narrative."
    )


QAType = Literal["action", "mental_state", "social_reasoning"]
#: The three aspects of behaviour the paper asks about, one triplet each (§2.2), in this order.
QA_TYPES: tuple[QAType, ...] = ("action", "mental_state", "social_reasoning")


class QA(StrictModel):
    scenario: NonEmptyStr = Field(
        max_length=1000,
        description="The situation, refined so that it does not reveal the answer.",
    )
    question: NonEmptyStr = Field(max_length=300)
    answer: NonEmptyStr = Field(max_length=600)


class SocialQA(StrictModel):
    """Stage ``social_qa``: one scenario-question-answer triplet per aspect of the author's
    behaviour: the next action, the inner mental state, and the social reasoning behind it."""

    action: QA = Field(description="What the author does next.")
    mental_state: QA = Field(description="What the author feels or thinks inside.")
    social_reasoning: QA = Field(description="Why the author behaves as they do.")

    def triplets(self) -> list[tuple[QAType, QA]]:
        return [(t, getattr(self, t)) for t in QA_TYPES]

    @model_validator(mode="after")
    def _distinct_questions(self) -> SocialQA:
        seen = {qa.question.strip().lower() for _, qa in self.triplets()}
        if len(seen) != len(QA_TYPES):
            raise ValueError("the three questions must be distinct")
        return self


class RefinedScenario(StrictModel):
    """Stage ``social_qa``, second step: a triplet's scenario rewritten so it no longer gives
    away the answer (the paper refines the scenario rather than dropping the triplet)."""

    scenario: NonEmptyStr = Field(
        max_length=1000,
        description="The same situation, up to the moment in question, without the answer.",
    )
