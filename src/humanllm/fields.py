"""What the configuration and reply models of every stage share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A model that refuses keys it does not declare: a misspelt setting is an error, never
    silently ignored."""

    model_config = ConfigDict(extra="forbid")
