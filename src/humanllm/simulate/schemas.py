"""Typed inputs and results of the six applications, shared by the Python API, the CLI and the
HTTP service (the service's request bodies and OpenAPI schema are these models).

Each input holds the application's own fields plus the sampling options (``n``, ``temperature``,
``max_tokens``, ``seed``). Bounds on lengths and counts are part of the schema, so a bad request
is a clear 422 from the service and a clear message from the CLI.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Applications by name, in the paper's order (§3.1 / §4.5).
APPLICATIONS = ("profile", "explain", "write", "comment", "select", "scenario")
Application = Literal["profile", "explain", "write", "comment", "select", "scenario"]

#: Hard ceiling on samples per request (the service has its own, lower, ``--max-n``).
MAX_N = 64
#: Default reply budget (tokens) per application when ``max_tokens`` is not given.
DEFAULT_MAX_TOKENS: dict[str, int] = {
    "profile": 700,
    "explain": 400,
    "write": 600,
    "comment": 400,
    "select": 64,
    "scenario": 600,
}

_SHORT = 1_000  # a question, a topic, a title, a name
_LONG = 20_000  # a persona, a profile, a scenario, a post, one earlier text
_ITEMS = 50  # earlier texts, reviews, purchases, characters


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleOptions(_Model):
    """How many answers to draw and how."""

    n: int = Field(default=1, ge=1, le=MAX_N, description="Answers to sample (distinct seeds).")
    temperature: float = Field(
        default=0.7, ge=0.0, le=2.0, description="Sampling temperature (the paper: 0.7)."
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        le=8192,
        description="Reply budget in tokens (default: per application).",
    )
    seed: int | None = Field(
        default=None, ge=0, description="Seed of the first sample; sample i uses seed + i."
    )


class Review(_Model):
    """One earlier review, comment or purchase of the person."""

    item: str = Field(default="", max_length=_SHORT, description="What it was about: item or post.")
    text: str = Field(default="", max_length=_LONG, description="What the person wrote (if any).")
    rating: float | None = Field(default=None, ge=0, le=5, description="Stars out of 5.")


class Character(_Model):
    name: str = Field(min_length=1, max_length=_SHORT)
    description: str = Field(default="", max_length=_LONG)


class _About(SampleOptions):
    persona: str | None = Field(default=None, max_length=_LONG, description="Brief persona.")
    profile: str | None = Field(default=None, max_length=_LONG, description="Detailed profile.")

    @field_validator("persona", "profile", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @model_validator(mode="after")
    def _someone(self) -> _About:
        if self.persona is None and self.profile is None:
            raise ValueError("give a persona or a profile of the person")
        return self


class ProfileInput(SampleOptions):
    """Profile generation: a brief persona -> a detailed profile."""

    persona: str = Field(min_length=1, max_length=_LONG)


class ExplainInput(_About):
    """Human explainer: persona or profile + a scenario + a question -> the person's answer."""

    scenario: str = Field(min_length=1, max_length=_LONG)
    question: str = Field(min_length=1, max_length=_SHORT)


class WriteInput(SampleOptions):
    """Personalized writing: earlier texts or a style description + a topic -> a new text."""

    topic: str = Field(min_length=1, max_length=_SHORT)
    kind: str = Field(
        default="social-media post",
        min_length=1,
        max_length=100,
        description='What to write: "Reddit post", "tweet", "blog post", "product review" ...',
    )
    samples: list[str] = Field(
        default_factory=list, max_length=_ITEMS, description="Earlier texts, oldest first."
    )
    style: str | None = Field(default=None, max_length=_LONG, description="How the person writes.")

    @field_validator("style", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("samples")
    @classmethod
    def _samples(cls, value: list[str]) -> list[str]:
        if any(len(s) > _LONG for s in value):
            raise ValueError(f"each sample must be at most {_LONG} characters")
        return [s for s in value if s.strip()]

    @model_validator(mode="after")
    def _voice(self) -> WriteInput:
        if not self.samples and self.style is None:
            raise ValueError("give earlier texts (samples) or a writing-style description (style)")
        return self


def _reviews(value: Any, field: Literal["item", "text"]) -> Any:
    """Plain strings in a history list stand for one field of a :class:`Review`."""
    if isinstance(value, list):
        return [{field: v} if isinstance(v, str) else v for v in value]
    return value


class CommentInput(SampleOptions):
    """Personalized commenting: earlier comments (reviews) + a new post (item) -> the comment."""

    post: str = Field(min_length=1, max_length=_LONG, description="The new post or item.")
    history: list[Review] = Field(
        min_length=1,
        max_length=_ITEMS,
        description="Earlier comments, oldest first (a plain string is a comment's text).",
    )
    kind: Literal["comment", "review"] = "comment"

    @field_validator("history", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return _reviews(value, "text")


class SelectInput(_About):
    """Item selection: purchase history + persona or profile + candidates -> the chosen one."""

    candidates: list[str] = Field(
        min_length=2, max_length=26, description="Candidate item titles (2 to 26)."
    )
    history: list[Review] = Field(
        default_factory=list,
        max_length=_ITEMS,
        description="Items bought before, oldest first (a plain string is an item title).",
    )

    @field_validator("history", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return _reviews(value, "item")

    @field_validator("candidates")
    @classmethod
    def _titles(cls, value: list[str]) -> list[str]:
        if any(not c.strip() or len(c) > _SHORT for c in value):
            raise ValueError(f"each candidate must be a title of 1 to {_SHORT} characters")
        return value


class ScenarioInput(SampleOptions):
    """Scenario generation: characters + background (time, place) -> the plots."""

    characters: list[Character] = Field(min_length=1, max_length=_ITEMS)
    time: str = Field(default="", max_length=_SHORT)
    place: str = Field(default="", max_length=_SHORT)

    @field_validator("characters", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        """``"Name: description"`` strings are accepted for characters."""
        if not isinstance(value, list):
            return value
        out = []
        for v in value:
            if isinstance(v, str):
                name, _, desc = v.partition(":")
                v = {"name": name.strip(), "description": desc.strip()}
            out.append(v)
        return out


AppInput = ProfileInput | ExplainInput | WriteInput | CommentInput | SelectInput | ScenarioInput

#: Input model by application.
INPUTS: dict[str, type[SampleOptions]] = {
    "profile": ProfileInput,
    "explain": ExplainInput,
    "write": WriteInput,
    "comment": CommentInput,
    "select": SelectInput,
    "scenario": ScenarioInput,
}


# --- results --------------------------------------------------------------------------------


class PromptText(BaseModel):
    system: str
    human: str


class Sample(BaseModel):
    text: str = Field(description="The simulated answer.")
    seed: int = Field(description="Seed it was sampled with.")
    finish_reason: str = Field(description='"stop", or "length" when cut by max_tokens.')


class Selection(Sample):
    choice: int = Field(description="0-based index of the chosen candidate.")
    item: str = Field(description="Title of the chosen candidate.")
    attempts: int = Field(description="Replies needed to get one that names a candidate.")


class _Result(BaseModel):
    application: Application
    model: str = Field(description="Model id of the backend that answered.")
    prompt: PromptText = Field(description="The prompt sent (the training prompt of the task).")
    elapsed_s: float


class Result(_Result):
    samples: list[Sample]

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.samples]


class SelectResult(_Result):
    candidates: list[str]
    samples: list[Selection]

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.samples]

    @property
    def items(self) -> list[str]:
        return [s.item for s in self.samples]


AppResult = Result | SelectResult
