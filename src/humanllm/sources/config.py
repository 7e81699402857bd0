"""Configuration of the data sources: one entry per input, validated by the model of its ``kind``
(looked up in the registry of :mod:`humanllm.sources.kind`, so kinds added at run time count)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError


def extra_input(description: str) -> Any:
    """A further input of a source, besides ``path``: a file, a folder or a glob, or none."""
    return Field(default=None, description=description)


class SourceBase(BaseModel):
    """What every ``sources:`` entry has; a kind's model adds ``kind: Literal["<name>"]``."""

    model_config = ConfigDict(extra="forbid")

    if TYPE_CHECKING:  # each kind's model declares it (a Literal), after the fields below
        kind: str

    path: str = Field(
        description="A file, a folder or a glob; relative paths resolve against the config file's folder."
    )
    name: str | None = Field(
        default=None, description="Name of this source in tables and stats; defaults to the kind."
    )
    batch_size: int = Field(
        default=50_000, gt=0, description="Records per streamed batch / output shard."
    )

    @property
    def source_name(self) -> str:
        return self.name or self.kind


class RedditSource(SourceBase):
    """HuggingFaceGECLM/REDDIT_submissions parquet (all columns strings) or Pushshift JSONL[.zst]."""

    kind: Literal["reddit"] = "reddit"
    comments: str | None = extra_input(
        "REDDIT_comments parquet or Pushshift RC_* JSONL[.zst] (file, folder or glob): "
        "the comments users wrote, for the personalized commenting task."
    )


class TwitterSource(SourceBase):
    """enryu43/twitter100m_tweets parquet; ``users_path`` optionally names twitter100m_users."""

    kind: Literal["twitter"] = "twitter"
    users_path: str | None = extra_input(
        "twitter100m_users parquet (file, folder or glob), for brand detection."
    )
    replies: str | None = extra_input(
        "Replies (tweets layout + in_reply_to_id), parquet or JSONL (file, folder or "
        "glob), for the personalized commenting task."
    )


class BloggerSource(SourceBase):
    """Blog Authorship Corpus: a folder of ``id.gender.age.industry.sign.xml`` files."""

    kind: Literal["blogger"] = "blogger"


class AmazonSource(SourceBase):
    """Amazon Reviews 2023: ``{Category}.jsonl[.gz]`` reviews; ``meta_path`` names ``meta_{Category}.jsonl[.gz]``."""

    kind: Literal["amazon"] = "amazon"
    meta_path: str | None = extra_input(
        "Item metadata file(s); default: meta_*.jsonl[.gz] next to the reviews."
    )


class JsonlSource(SourceBase):
    """Any other platform: JSONL[.gz|.zst] with a mapping from record columns to input fields."""

    kind: Literal["jsonl"] = "jsonl"
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="record column -> input field, for record_id, user_id, created_at, text, title; other input fields go to meta.",
    )
    time_unit: Literal["s", "ms", "iso"] = Field(
        default="s", description="How created_at is written in the input."
    )
    filter_as: Literal["reddit", "twitter", "blogger", "amazon", "none"] = Field(
        default="none",
        description="Which source's rule filters to apply (none: only length and per-user rules).",
    )
    min_chars: int = Field(
        default=300, ge=0, description="Minimum normalised text length when filter_as is none."
    )


def _by_kind(value: Any, info: ValidationInfo) -> SourceBase:
    """One ``sources:`` entry -> the model of its kind (errors name the known kinds, or the field)."""
    from humanllm.sources.kind import source_kinds

    kinds = source_kinds()
    if isinstance(value, SourceBase) and type(value) in {k.config for k in kinds.values()}:
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("source_type", "a source is a mapping with 'kind' and 'path'")
    kind = value.get("kind")
    if kind is None:
        raise PydanticCustomError(
            "source_kind", "a source needs 'kind' (one of: {known})", {"known": ", ".join(kinds)}
        )
    if kind not in kinds:
        raise PydanticCustomError(
            "source_kind",
            "unknown source kind {kind}; known kinds: {known} (a kind of your own: name its "
            "module in plugins:)",
            {"kind": repr(kind), "known": ", ".join(kinds)},
        )
    model = kinds[kind].config
    try:
        out = model.model_validate(value, context=info.context)
    except ValidationError as e:
        raise located(e, str(kind)) from None
    assert isinstance(out, SourceBase)
    return out


def located(err: ValidationError, key: str) -> ValidationError:
    """A nested model's errors with ``key`` before their location (as a tagged union puts the
    tag), to raise from a validator that picked that model."""
    lines: list[Any] = []
    for e in err.errors():
        line = {"type": e["type"], "loc": (key, *e["loc"]), "input": e["input"]}
        if "ctx" in e:
            line["ctx"] = e["ctx"]
        lines.append(line)
    return ValidationError.from_exception_data(err.title, lines)


#: One ``sources:`` entry: validated by its kind's model, dumped with that model's fields.
SourceConfig = Annotated[SerializeAsAny[SourceBase], PlainValidator(_by_kind)]
