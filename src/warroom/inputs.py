"""The base of every input model: unknown fields refused, text trimmed, NUL refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from warroom.db import no_nul


class Input(BaseModel):
    """What a client sends: every field named, nothing PostgreSQL could not store."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, list):
            return [no_nul(v) for v in value]
        return no_nul(value)
