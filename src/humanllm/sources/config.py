"""Configuration of the data sources: one entry per input, discriminated by ``kind``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
        return self.name or self.kind  # type: ignore[attr-defined]


class RedditSource(_Source):
    """HuggingFaceGECLM/REDDIT_submissions parquet (all columns strings) or Pushshift JSONL[.zst]."""

    kind: Literal["reddit"] = "reddit"
    comments: str | None = Field(
        default=None,
        description="REDDIT_comments parquet or Pushshift RC_* JSONL[.zst] (file, folder or glob): "
        "the comments users wrote, for the personalized commenting task.",
    )


class TwitterSource(_Source):
    """enryu43/twitter100m_tweets parquet; ``users_path`` optionally names twitter100m_users."""

    kind: Literal["twitter"] = "twitter"
    users_path: str | None = Field(
        default=None,
        description="twitter100m_users parquet (file, folder or glob), for brand detection.",
    )
    replies: str | None = Field(
        default=None,
        description="Replies (tweets layout + in_reply_to_id), parquet or JSONL (file, folder or "
        "glob), for the personalized commenting task.",
    )


class BloggerSource(_Source):
    """Blog Authorship Corpus: a folder of ``id.gender.age.industry.sign.xml`` files."""

    kind: Literal["blogger"] = "blogger"


class AmazonSource(_Source):
    """Amazon Reviews 2023: ``{Category}.jsonl[.gz]`` reviews; ``meta_path`` names ``meta_{Category}.jsonl[.gz]``."""

    kind: Literal["amazon"] = "amazon"
    meta_path: str | None = Field(
        default=None,
        description="Item metadata file(s); default: meta_*.jsonl[.gz] next to the reviews.",
    )


class JsonlSource(_Source):
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


SourceConfig = Annotated[
    RedditSource | TwitterSource | BloggerSource | AmazonSource | JsonlSource,
    Field(discriminator="kind"),
]
