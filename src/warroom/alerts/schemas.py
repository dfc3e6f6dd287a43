"""Integrations, alerts, silences and reports as the API reads and writes them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from warroom.db import MAX_ID
from warroom.inputs import Input
from warroom.playbook.duration import Duration


class IntegrationCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["alertmanager", "grafana", "events-v2", "generic"]
    auth_token: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="If set, senders must send it as a bearer token.",
    )


class IntegrationRead(BaseModel):
    id: int
    name: str
    kind: str
    key: str
    url: str
    requires_token: bool
    created_at: datetime


class AlertFilter(Input):
    status: Literal["firing", "resolved"] | None = None
    integration: str | None = Field(default=None, max_length=100)
    incident_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    silenced: bool | None = None
    q: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_ID)


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    integration_id: int
    fingerprint: str
    status: str
    source: str
    summary: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    severity_hint: str | None
    severity: str | None
    route: str
    generator_url: str
    starts_at: datetime | None
    ends_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    count: int
    silenced_by: int | None
    incident_id: int | None


class AlertPage(BaseModel):
    items: list[AlertRead]
    total: int
    limit: int
    offset: int


class SilenceCreate(Input):
    matchers: list[str] = Field(min_length=1, max_length=20)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    duration: Duration | None = Field(default=None, description="Instead of ends_at, e.g. 2h.")
    comment: str = Field(default="", max_length=2000)

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        starts = self.starts_at or now
        if self.ends_at is not None:
            return starts, self.ends_at
        return starts, starts + (timedelta(hours=1) if self.duration is None else self.duration)


class SilenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime


class ReportCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    contact: str = Field(min_length=1, max_length=200, description="Email or phone.")
    description: str = Field(min_length=1, max_length=5000, description="What is wrong.")


class IntakeRead(BaseModel):
    """Hook requests committed but not yet ingested, and those set aside after failing."""

    pending: int
    pending_alerts: int
    failed: int
    oldest_received_at: datetime | None
