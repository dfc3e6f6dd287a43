"""Incidents as the API and CLI read and write them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from warroom.db import MAX_ID
from warroom.incidents.lifecycle import Status
from warroom.inputs import Input


class IncidentCreate(Input):
    title: str = Field(min_length=1, max_length=300)
    severity: str = Field(min_length=1, description="A severity key of the playbook, e.g. P1.")
    type: str = Field(default="operational", description="An incident type of the playbook.")
    summary: str = Field(default="", max_length=20_000)
    source: str = Field(default="manual", min_length=1, max_length=100)
    escalation_policy: str | None = Field(
        default=None, max_length=100, description="Page with this escalation policy at once."
    )


class IncidentUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    summary: str | None = Field(default=None, max_length=20_000)
    severity: str | None = Field(default=None, min_length=1)
    type: str | None = Field(default=None, min_length=1)
    reason: str = Field(default="", max_length=2_000)


class TransitionRequest(Input):
    note: str = Field(default="", max_length=20_000)


class RoleAssign(Input):
    person_id: int = Field(gt=0, le=MAX_ID)


class TaskSkip(Input):
    reason: str = Field(min_length=1, max_length=2_000)


class NoteCreate(Input):
    text: str = Field(min_length=1, max_length=20_000)


class IncidentFilter(Input):
    status: list[Status] | None = None
    severity: list[str] | None = None
    type: list[str] | None = None
    q: str | None = Field(default=None, max_length=200)
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_ID)


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    title: str
    section: str
    runbook: str | None
    status: Literal["open", "done", "skipped"]
    due_at: datetime | None
    done_at: datetime | None
    done_by: str | None
    skip_reason: str | None


class PhaseRead(BaseModel):
    key: str
    name: str
    stage: Literal["response", "post_incident"]
    starts_at: datetime
    due_at: datetime | None
    state: Literal["upcoming", "running", "done", "overdue"]
    tasks: list[TaskRead]


class PersonRef(BaseModel):
    id: int
    name: str


class RoleRead(BaseModel):
    key: str
    name: str
    team: str
    required: bool
    person: PersonRef | None
    assigned_at: datetime | None


class IncidentRead(BaseModel):
    id: int
    title: str
    summary: str
    severity: str
    type: str
    status: Status
    source: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str]
    current_phase: str | None
    next_due_at: datetime | None
    roles: list[RoleRead]
    phases: list[PhaseRead]
    revision: int


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    total: int
    limit: int
    offset: int


class TimelineEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    kind: str
    data: dict[str, Any]
    hash: str


class VerifyRead(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str
