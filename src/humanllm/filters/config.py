"""Thresholds of the paper's rule filters (§2.1); every default is the paper's number.

The built-in kinds' groups are fields here; a kind registered at run time (see
:mod:`humanllm.sources.kind`) has its group under ``filter.<kind>`` too, validated by its
``rules_config``: :meth:`FilterConfig.group` finds either.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from humanllm.sources.config import located


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

    model_config = ConfigDict(extra="allow")  # rule groups of kinds registered at run time

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

    @model_validator(mode="before")
    @classmethod
    def _registered_groups(cls, data: Any) -> Any:
        """Keys other than the fields: the rule group of a registered kind, by its model."""
        if not isinstance(data, dict):
            return data
        extra = [k for k in data if k not in cls.model_fields]
        if not extra:
            return data
        from humanllm.sources.kind import source_kinds

        models = {n: k.rules_config for n, k in source_kinds().items() if k.rules_config}
        out = dict(data)
        for key in extra:
            model = models.get(key)
            if model is None:  # as extra="forbid" reports it
                raise ValidationError.from_exception_data(
                    cls.__name__, [{"type": "extra_forbidden", "loc": (key,), "input": out[key]}]
                )
            value = out[key]
            if isinstance(value, model):
                continue
            try:
                out[key] = model.model_validate(value if value is not None else {})
            except ValidationError as e:
                raise located(e, key) from None
        return out

    def group(self, kind: str) -> BaseModel | None:
        """The rule group of a kind (its defaults when the config gives none; None: it has none)."""
        if kind in type(self).model_fields:
            value = getattr(self, kind)
            return value if isinstance(value, BaseModel) else None
        given = (self.model_extra or {}).get(kind)
        if isinstance(given, BaseModel):
            return given
        from humanllm.sources.kind import source_kinds

        known = source_kinds().get(kind)
        return known.rules_config() if known and known.rules_config else None
