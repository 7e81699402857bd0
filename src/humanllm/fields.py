"""What the configuration and reply models of every stage share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """A model that refuses keys it does not declare: a misspelt setting is an error, never
    silently ignored."""

    model_config = ConfigDict(extra="forbid")


#: A reply field that must not be empty.
NonEmptyStr = Annotated[str, Field(min_length=1)]

# Sampling settings, with the bounds of the OpenAI API, for every model that picks them.
Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(gt=0, le=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]  # frequency_penalty, presence_penalty
#: A completion budget in tokens; its description is the option's help wherever it is used.
MaxTokens = Annotated[int, Field(gt=0, description="Completion budget per request.")]
