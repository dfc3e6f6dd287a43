"""People as the API and CLI read and write them."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.inputs import Input

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_zone(value: str) -> str:
    """The name of a time zone that exists; ValueError otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class PersonCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, description="E.164, e.g. +4930123456")
    chat_id: str | None = Field(default=None, max_length=100)
    timezone: str = "UTC"

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value and not EMAIL.match(value):
            raise ValueError("not an email address")
        return value.lower() if value else None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value and not E164.match(value):
            raise ValueError("not an E.164 phone number such as +4930123456")
        return value or None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_zone(value)


class PersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str | None
    phone: str | None
    chat_id: str | None
    timezone: str
    created_at: datetime
