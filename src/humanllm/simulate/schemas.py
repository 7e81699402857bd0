"""What every application's input and result share, used by the Python API, the CLI and the HTTP
service (the service's request bodies and OpenAPI schema are these models).

Each application's input model lives with its task (:mod:`humanllm.tasks.defs`) and holds its own
fields plus the sampling options of :class:`SampleOptions` (``n``, ``temperature``,
``max_tokens``, ``seed``). Bounds on lengths and counts are part of the schema, so a bad request
is a clear 422 from the service and a clear message from the CLI; :class:`Flag` metadata says how
a field reads as a command-line option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from humanllm.simulate.apps import SimApp

#: Hard ceiling on samples per request (the service has its own, lower, ``--max-n``).
MAX_N = 64

SHORT = 1_000  # a question, a topic, a title, a name
LONG = 20_000  # a persona, a profile, a scenario, a post, one earlier text
ITEMS = 50  # earlier texts, reviews, purchases, characters


@dataclass(frozen=True)
class Flag:
    """How a field of an input model reads on the command line (``Annotated`` metadata; the
    schema and the service ignore it). Unset parts come from the field: ``--<name>`` with ``_`` as
    ``-``, its description as the help. ``parse`` turns one flag value into the field's value
    (each value, for a list field)."""

    name: str | None = None
    short: str | None = None
    help: str | None = None
    parse: Callable[[str], Any] | None = None


def blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleOptions(_Model):
    """How many answers to draw and how."""

    n: Annotated[int, Flag(short="-n", help="Answers to sample (default 1).")] = Field(
        default=1, ge=1, le=MAX_N, description="Answers to sample (distinct seeds)."
    )
    temperature: Annotated[float, Flag(short="-t", help="Sampling temperature (default 0.7).")] = (
        Field(default=0.7, ge=0.0, le=2.0, description="Sampling temperature (the paper: 0.7).")
    )
    max_tokens: Annotated[int | None, Flag(help="Reply budget (default: per application).")] = (
        Field(
            default=None,
            ge=1,
            le=8192,
            description="Reply budget in tokens (default: per application).",
        )
    )
    seed: Annotated[int | None, Flag(help="Seed of the first answer.")] = Field(
        default=None, ge=0, description="Seed of the first sample; sample i uses seed + i."
    )


class Review(_Model):
    """One earlier review, comment or purchase of the person."""

    item: str = Field(default="", max_length=SHORT, description="What it was about: item or post.")
    text: str = Field(default="", max_length=LONG, description="What the person wrote (if any).")
    rating: float | None = Field(default=None, ge=0, le=5, description="Stars out of 5.")


def plain_reviews(value: Any, field: Literal["item", "text"]) -> Any:
    """Plain strings in a history list stand for one field of a :class:`Review`."""
    if isinstance(value, list):
        return [{field: v} if isinstance(v, str) else v for v in value]
    return value


class Character(_Model):
    name: str = Field(min_length=1, max_length=SHORT)
    description: str = Field(default="", max_length=LONG)


class About(SampleOptions):
    """Options of an application about a person given by a persona or a profile (or both)."""

    persona: Annotated[str | None, Flag(help="Brief persona of the person.")] = Field(
        default=None, max_length=LONG, description="Brief persona."
    )
    profile: Annotated[str | None, Flag(help="Detailed profile of the person.")] = Field(
        default=None, max_length=LONG, description="Detailed profile."
    )

    @field_validator("persona", "profile", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return blank_to_none(value)

    @model_validator(mode="after")
    def _someone(self) -> About:
        if self.persona is None and self.profile is None:
            raise ValueError("give a persona or a profile of the person")
        return self


#: Any application's input (each is a :class:`SampleOptions`).
AppInput = SampleOptions


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
    application: str = Field(description="The application that answered.")
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


# --- the applications, from the task registry ------------------------------------------------


def apps() -> tuple[SimApp, ...]:
    """Every task's simulator application, by ``position`` (unplaced ones after, in the task
    registry's order)."""
    from humanllm.tasks.registry import tasks

    found = [t.app for t in tasks() if t.app is not None]
    last = len(found)
    ordered = sorted(
        enumerate(found), key=lambda it: (last if it[1].position is None else it[1].position, it[0])
    )
    return tuple(app for _, app in ordered)


def get_app(name: str) -> SimApp:
    for app in apps():
        if app.name == name:
            return app
    raise KeyError(f"no application named {name!r} (known: {', '.join(a.name for a in apps())})")


def __getattr__(name: str) -> Any:
    """Names computed from the registry: ``APPLICATIONS`` (application names), ``INPUTS`` (input
    model by application), ``DEFAULT_MAX_TOKENS`` (reply budget by application), and each input
    model by its class name (``ProfileInput``, ...)."""
    if name == "APPLICATIONS":
        return tuple(a.name for a in apps())
    if name == "INPUTS":
        return {a.name: a.input for a in apps()}
    if name == "DEFAULT_MAX_TOKENS":
        return {a.name: a.max_tokens for a in apps()}
    if name.endswith("Input") and not name.startswith("_"):
        for app in apps():
            if app.input.__name__ == name:
                return app.input
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
