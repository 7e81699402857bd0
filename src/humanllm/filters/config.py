"""Thresholds of the paper's rule filters (§2.1); every default is the paper's number."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedditRules(_Group):
    fused: bool = Field(
        default=True,
        description="Filter Reddit straight from the raw files in one pass (cheap rules pushed into the "
        "Parquet scan, so dropped posts are never normalised); false: filter the ingested records/. "
        "Both give the same records and reasons.",
    )
    min_score: int = Field(default=2, description="Keep posts with score >= this.")
    min_comments: int = Field(default=2, description="Keep posts with num_comments >= this.")
    min_chars: int = Field(
        default=300,
        description="Keep posts whose normalised title + selftext has >= this many characters.",
    )
    extra_bots: list[str] = Field(
        default_factory=list, description="More author names to drop as bots (case-insensitive)."
    )


class TwitterRules(_Group):
    min_chars: int = Field(
        default=300, description="Keep tweets whose normalised text has >= this many characters."
    )
    extra_brands: list[str] = Field(
        default_factory=list, description="More user names to drop as corporate/brand accounts."
    )
    brand_min_followers: int = Field(
        default=100_000,
        ge=0,
        description="A verified account with at least this many followers and brand words in its description is a brand.",
    )
    max_hashtags: int = Field(
        default=5,
        ge=1,
        description="A tweet with at least this many hashtags is advertisement-like.",
    )
    max_links: int = Field(
        default=3, ge=1, description="A tweet with at least this many links is advertisement-like."
    )


class BloggerRules(_Group):
    min_chars: int = Field(
        default=300, description="Keep posts whose normalised text has >= this many characters."
    )
    require_first_person: bool = Field(
        default=True, description="Drop posts without a first-person pronoun."
    )
    lowercase_i: bool = Field(
        default=True,
        description="Count a standalone lower-case 'i' as the pronoun (informal writing).",
    )


class AmazonRules(_Group):
    min_chars: int = Field(
        default=100, description="Keep reviews whose normalised text has >= this many characters."
    )
    min_item_records: int = Field(
        default=3, description="k-core: items need >= this many purchase records."
    )
    min_user_records: int = Field(
        default=8, description="k-core: users need >= this many purchase records."
    )


class FilterConfig(_Group):
    """Stage ``filter``: the paper's rule-based data filtering."""

    reddit: RedditRules = Field(default_factory=RedditRules)
    twitter: TwitterRules = Field(default_factory=TwitterRules)
    blogger: BloggerRules = Field(default_factory=BloggerRules)
    amazon: AmazonRules = Field(default_factory=AmazonRules)
    min_records_per_user: int = Field(
        default=2,
        ge=1,
        description="Each user must have multiple records (applied after the other rules).",
    )
    user_buckets: int = Field(
        default=8,
        ge=1,
        description="Output shards per source, by hash of user id (one bucket's kept records "
        "are sorted in memory when it is written).",
    )
    partition_rows: int = Field(
        default=4_000_000,
        ge=1,
        description="Rows per hash partition of the counts over a whole source (duplicate "
        "record ids, records per user): bounds their memory; the outputs do not depend on it.",
    )
