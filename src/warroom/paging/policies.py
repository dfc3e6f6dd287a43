"""Escalation policies: create, replace, find; targets are stored by id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.errors import Conflict, InvalidInput, NotFound
from warroom.inputs import Input, named, refuse_taken_name
from warroom.oncall import service as schedules
from warroom.oncall import teams
from warroom.oncall.models import Schedule, Team
from warroom.paging.models import EscalationPolicy
from warroom.people import service as people
from warroom.people.models import Person
from warroom.playbook.duration import parse_duration

MIN_TIMEOUT = timedelta(seconds=30)


class TargetIn(Input):
    person: str | None = Field(default=None, description="Id, email or name.")
    schedule: str | None = Field(default=None, description="Name or id: whoever is on call.")
    team: str | None = Field(
        default=None, description="Name or id: its schedule's on-call, or every member."
    )

    @model_validator(mode="after")
    def _one(self) -> TargetIn:
        if [self.person, self.schedule, self.team].count(None) != 2:
            raise ValueError("give exactly one of person, schedule and team")
        return self

    def kind_and_ref(self) -> tuple[str, str]:
        for kind in ("person", "schedule", "team"):
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise AssertionError("validated: one is set")


class LevelIn(Input):
    targets: list[TargetIn] = Field(min_length=1, max_length=20)
    timeout: str = Field(default="5m", description="How long to wait for an acknowledgement.")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        if parse_duration(value) < MIN_TIMEOUT:
            raise ValueError("must be at least 30s")
        return value


class PolicyCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    repeat: int = Field(default=0, ge=0, le=9, description="Extra rounds after the last level.")
    levels: list[LevelIn] = Field(min_length=1, max_length=10)


class TargetRead(BaseModel):
    kind: str
    id: int
    name: str


class LevelRead(BaseModel):
    targets: list[TargetRead]
    timeout_seconds: int


class PolicyRead(BaseModel):
    id: int
    name: str
    description: str
    repeat: int
    levels: list[LevelRead]
    created_at: datetime
    updated_at: datetime


def _find_target(session: Session, kind: str, ref: str) -> Person | Schedule | Team:
    if kind == "person":
        return people.find(session=session, ref=ref)
    if kind == "schedule":
        return schedules.find(session=session, ref=ref)
    return teams.find(session=session, ref=ref)


def _stored_levels(session: Session, data: PolicyCreate) -> list[dict[str, Any]]:
    """Levels with every target resolved to an id (and its name, for the snapshot)."""
    levels = []
    for i, level in enumerate(data.levels):
        targets = []
        for j, target in enumerate(level.targets):
            kind, ref = target.kind_and_ref()
            try:
                found = _find_target(session, kind, ref)
            except (NotFound, Conflict) as exc:
                raise InvalidInput(f"levels[{i}].targets[{j}].{kind}", exc.message) from exc
            targets.append({"kind": kind, "id": found.id, "name": found.name})
        seconds = int(parse_duration(level.timeout).total_seconds())
        levels.append({"targets": targets, "timeout_seconds": seconds})
    return levels


def create(*, session: Session, data: PolicyCreate, now: datetime) -> EscalationPolicy:
    refuse_taken_name(session, EscalationPolicy, data.name, what="policy")
    policy = EscalationPolicy(
        name=data.name,
        description=data.description,
        repeat=data.repeat,
        levels=_stored_levels(session, data),
        created_at=now,
        updated_at=now,
    )
    session.add(policy)
    session.flush()
    return policy


def replace(
    *, session: Session, policy: EscalationPolicy, data: PolicyCreate, now: datetime
) -> None:
    """A new definition; escalations already running keep the one they started with."""
    refuse_taken_name(session, EscalationPolicy, data.name, what="policy", other_than=policy.id)
    policy.name, policy.description, policy.repeat = data.name, data.description, data.repeat
    policy.levels = _stored_levels(session, data)
    policy.updated_at = now


def get(*, session: Session, policy_id: int) -> EscalationPolicy:
    policy = session.get(EscalationPolicy, policy_id)
    if policy is None:
        raise NotFound(f"policy {policy_id} not found", details={"field": "policy_id"})
    return policy


def find(*, session: Session, ref: str) -> EscalationPolicy:
    """A policy by id or name."""
    return named(session, EscalationPolicy, ref, what="escalation policy", field="policy")


def list_policies(*, session: Session) -> Sequence[EscalationPolicy]:
    return session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)).all()


def read(policy: EscalationPolicy) -> PolicyRead:
    return PolicyRead(
        id=policy.id,
        name=policy.name,
        description=policy.description,
        repeat=policy.repeat,
        levels=[LevelRead.model_validate(level) for level in policy.levels],
        created_at=policy.created_at,
        updated_at=policy.updated_at,
    )


def snapshot(policy: EscalationPolicy) -> dict[str, Any]:
    """What an escalation keeps of its policy when it starts."""
    return {"id": policy.id, "name": policy.name, "repeat": policy.repeat, "levels": policy.levels}
