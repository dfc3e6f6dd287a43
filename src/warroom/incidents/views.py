"""Turn incident rows into the read models the API and CLI show."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents.lifecycle import allowed_actions
from warroom.incidents.models import Incident, Phase
from warroom.incidents.phases import active_phases, open_tasks
from warroom.incidents.schemas import IncidentRead, PersonRef, PhaseRead, RoleRead, TaskRead
from warroom.people.models import Person
from warroom.playbook.schema import Playbook

T = TypeVar("T")


def state_of(
    *, tasks: int, still_open: int, starts_at: datetime, due_at: datetime | None, now: datetime
) -> str:
    """A phase's state as of ``now``: upcoming, running, done (no task open) or overdue."""
    if tasks and not still_open:
        return "done"
    if now < starts_at:
        return "upcoming"
    if due_at is not None and now >= due_at:
        return "overdue"
    return "running"


def phase_state(phase: Phase, now: datetime) -> str:
    """upcoming, running, done or overdue, as of ``now``."""
    return state_of(
        tasks=len(phase.tasks),
        still_open=len(open_tasks(phase)),
        starts_at=phase.starts_at,
        due_at=phase.due_at,
        now=now,
    )


def progress(
    phases: Iterable[tuple[T, str, datetime, datetime | None]], now: datetime
) -> tuple[T | None, datetime | None]:
    """From (phase, state, starts_at, due_at) in plan order: the current phase (the first
    unfinished one that has started) and the next deadline of the unfinished ones."""
    unfinished = [p for p in phases if p[1] != "done"]
    started = [p[0] for p in unfinished if p[2] <= now]
    dues = [p[3] for p in unfinished if p[3] is not None]
    return (started[0] if started else None), (min(dues) if dues else None)


def read_many(
    *, session: Session, playbook: Playbook, incidents: Iterable[Incident], now: datetime
) -> list[IncidentRead]:
    """Read models for several incidents, with one query for the people in their roles."""
    incidents = list(incidents)
    ids = {a.person_id for i in incidents for a in i.roles}
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    return [_read(i, playbook, people, now) for i in incidents]


def read_one(
    *, session: Session, playbook: Playbook, incident: Incident, now: datetime
) -> IncidentRead:
    return read_many(session=session, playbook=playbook, incidents=[incident], now=now)[0]


def _read(
    incident: Incident, playbook: Playbook, people: dict[int, Person], now: datetime
) -> IncidentRead:
    phases = [
        PhaseRead(
            key=p.key,
            name=p.name,
            stage=p.stage,
            starts_at=p.starts_at,
            due_at=p.due_at,
            state=phase_state(p, now),
            tasks=[TaskRead.model_validate(t) for t in p.tasks],
        )
        for p in active_phases(incident)
    ]
    current, next_due = progress(((p.key, p.state, p.starts_at, p.due_at) for p in phases), now)
    return IncidentRead(
        id=incident.id,
        title=incident.title,
        summary=incident.summary,
        severity=incident.severity,
        type=incident.type,
        status=incident.status,
        source=incident.source,
        created_by=incident.created_by,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        acknowledged_at=incident.acknowledged_at,
        mitigated_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        allowed_actions=list(allowed_actions(incident.status)),
        current_phase=current,
        next_due_at=next_due,
        roles=_roles(incident, playbook, people),
        phases=phases,
        revision=incident.timeline_count,
    )


def _roles(incident: Incident, playbook: Playbook, people: dict[int, Person]) -> list[RoleRead]:
    held = {a.role_key: a for a in incident.roles}
    required = {r.key for r in playbook.required_roles(incident.type)}
    out = []
    for role in playbook.roles:
        assignment = held.get(role.key)
        if role.key not in required and assignment is None:
            continue
        person = people.get(assignment.person_id) if assignment else None
        out.append(
            RoleRead(
                key=role.key,
                name=role.name,
                team=role.team,
                required=role.key in required,
                person=PersonRef(id=person.id, name=person.name) if person else None,
                assigned_at=assignment.assigned_at if assignment else None,
            )
        )
    return out
