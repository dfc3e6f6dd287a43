"""The base of every input model: unknown fields refused, text trimmed, NUL refused."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.db import Base, no_nul, parse_id
from warroom.errors import Conflict, NotFound

M = TypeVar("M", bound=Base)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")  # an international phone number: +4930123456
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def phone_number(value: str | None) -> str | None:
    """An E.164 number, or None for none; ValueError otherwise (for field validators)."""
    if value and not E164.match(value):
        raise ValueError("not an E.164 phone number such as +4930123456")
    return value or None


def email_address(value: str | None) -> str | None:
    """An email address, lowercased, or None for none; ValueError otherwise."""
    if value and not EMAIL.match(value):
        raise ValueError("not an email address")
    return value.lower() if value else None


def check_zone(value: str) -> str:
    """The name of a time zone that exists; ValueError otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


Phone = Annotated[str | None, AfterValidator(phone_number)]
Email = Annotated[str | None, AfterValidator(email_address)]


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


def named(session: Session, model: type[M], ref: str, *, what: str, field: str) -> M:
    """A row of ``model`` by numeric id or by exact name; NotFound naming ``field``."""
    if ref.isascii() and ref.isdigit() and (row_id := parse_id(ref)) is not None:
        found = session.get(model, row_id)
    else:
        name: Any = getattr(model, "name")  # noqa: B009 (every named model has the column)
        found = session.scalars(select(model).where(name == ref)).first()
    if found is None:
        raise NotFound(f"no {what} {ref!r}", details={"field": field})
    return found
