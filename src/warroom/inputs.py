"""The base of every input model: unknown fields refused, text trimmed, NUL refused."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.db import no_nul
from warroom.errors import Conflict


class Input(BaseModel):
    """What a client sends: every field named, nothing PostgreSQL could not store."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, list):
            return [no_nul(v) for v in value]
        return no_nul(value)


def refuse_taken_name(
    session: Session, model: Any, name: str, *, what: str, other_than: int | None = None
) -> None:
    """Conflict (field ``name``) when another row of ``model`` already has this name."""
    query = select(model.id).where(model.name == name)
    if other_than is not None:
        query = query.where(model.id != other_than)
    if session.scalar(query) is not None:
        raise Conflict(f"a {what} named {name!r} exists", details={"field": "name"})
