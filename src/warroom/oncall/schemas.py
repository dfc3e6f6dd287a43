"""Schedules as the API and CLI read and write them."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warroom.inputs import Input, check_zone
from warroom.people.schemas import PersonRead

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class WindowIn(Input):
    """Local times on some days; ``to`` at or before ``from`` runs past midnight."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    days: list[Day] = Field(min_length=1)
    start: time = Field(alias="from")
    end: time = Field(alias="to")


class LayerIn(Input):
    name: str = Field(min_length=1, max_length=100)
    rotation: Literal["hourly", "daily", "weekly"]
    every: int = Field(default=1, ge=1, le=168, description="Shift length in rotation units.")
    handoff: time = Field(default=time(9), description="Local hand-off time.")
    handoff_day: Day = Field(default="mon", description="Weekly rotations: the hand-off day.")
    start: date = Field(description="Local date of the first shift.")
    participants: list[str] = Field(min_length=1, max_length=200)
    restrict: list[WindowIn] = Field(default_factory=list, max_length=50)


class ScheduleCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    timezone: str = "UTC"
    description: str = Field(default="", max_length=2000)
    layers: list[LayerIn] = Field(min_length=1, max_length=20)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @model_validator(mode="after")
    def _unique_layers(self) -> ScheduleCreate:
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise ValueError("layer names must be unique within a schedule")
        return self


class OverrideCreate(Input):
    person: str = Field(min_length=1, description="Who is on call: id, email or name.")
    replaces: str | None = Field(default=None, description="Only instead of this person.")
    starts_at: datetime
    ends_at: datetime
    note: str = Field(default="", max_length=2000)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2027-01-01T09:00:00+01:00")
        return value

    @model_validator(mode="after")
    def _order(self) -> OverrideCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SpanRead(BaseModel):
    start: datetime
    end: datetime
    people: list[PersonRead]
    source: str = Field(description="The layer that decided, 'override', or '' for a gap.")


class OverrideRead(BaseModel):
    id: int
    person: PersonRead
    replaces: PersonRead | None
    starts_at: datetime
    ends_at: datetime
    note: str
    created_by: str


class ScheduleRead(BaseModel):
    id: int
    name: str
    timezone: str
    description: str
    layers: list[LayerIn]
    gaps: list[SpanRead] = Field(description="Times nobody is on call in the next 4 weeks.")
    created_at: datetime
    updated_at: datetime


class OnCallRead(BaseModel):
    schedule: str
    at: datetime
    people: list[PersonRead]
    source: str
