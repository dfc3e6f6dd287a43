"""Incident use-cases: declare, read and list. Changes live in ``changes.py``.

Callers own the transaction; every change appends to the timeline in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from warroom.clock import Clock
from warroom.db import add_written
from warroom.errors import InvalidInput, NotFound
from warroom.incidents import assembly, events, idempotency, planning, timeline
from warroom.incidents.models import Incident, Phase
from warroom.incidents.phases import add_phases
from warroom.incidents.schemas import IncidentCreate, IncidentFilter
from warroom.playbook.schema import Playbook

WITH_PLAN = (
    selectinload(Incident.phases).selectinload(Phase.tasks),
    selectinload(Incident.roles),
)


def check_severity_and_type(playbook: Playbook, severity: str | None, type_: str | None) -> None:
    """InvalidInput naming the field when the playbook knows no such severity or type."""
    if severity is not None and playbook.severity(severity) is None:
        known = ", ".join(s.key for s in playbook.severities)
        raise InvalidInput("severity", f"unknown severity {severity!r}; one of {known}")
    if type_ is not None and playbook.incident_type(type_) is None:
        known = ", ".join(t.key for t in playbook.incident_types)
        raise InvalidInput("type", f"unknown incident type {type_!r}; one of {known}")


def declare(
    *,
    session: Session,
    playbook: Playbook,
    data: IncidentCreate,
    actor: str,
    clock: Clock,
    idempotency_key: str | None = None,
    staged: timeline.Staged | None = None,
) -> tuple[Incident, bool]:
    """Open an incident with its planned phases; returns it and whether it is new. Its first
    timeline entries go in with one statement: into ``staged``, when given, for the caller
    to insert with its own."""
    check_severity_and_type(playbook, data.severity, data.type)
    if idempotency_key is not None:
        earlier = idempotency.earlier_incident(session=session, key=idempotency_key, data=data)
        if earlier is not None:
            return get(session=session, incident_id=earlier), False
    incident = _insert(session, data, actor, clock.now())
    now = incident.created_at
    entries = staged if staged is not None else timeline.Staged()
    entries.add(incident=incident, at=now, actor=actor, kind="declared", data=data.model_dump())
    events.record(session=session, incident=incident, kind="declared", at=now)
    planned = planning.plan(playbook.phases_for(data.type, data.severity), now)
    add_phases(session=session, incident=incident, planned=planned, now=now, new=True)
    entries.add(
        incident=incident,
        at=now,
        actor="warroom",
        kind="phases_planned",
        data=plan_summary(planned),
    )
    if staged is None:
        entries.insert(session)
    assembly.assemble(session=session, playbook=playbook, incident=incident, now=now)
    if idempotency_key is not None:
        idempotency.remember(
            session=session, key=idempotency_key, data=data, incident_id=incident.id, now=now
        )
    return incident, True


def _insert(session: Session, data: IncidentCreate, actor: str, now: datetime) -> Incident:
    """The new incident's row."""
    columns: dict[str, Any] = {
        "title": data.title,
        "summary": data.summary,
        "severity": data.severity,
        "type": data.type,
        "source": data.source,
        "status": "triggered",
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
        "acknowledged_at": None,
        "mitigated_at": None,
        "resolved_at": None,
        "closed_at": None,
        "timeline_count": 0,
        "timeline_head": "",
    }
    return add_written(session, Incident, columns)


def add_planned(
    *,
    session: Session,
    incident: Incident,
    planned: Sequence[planning.PlannedPhase],
    now: datetime,
    kind: str = "phases_planned",
    actor: str = "warroom",
    extra: dict[str, object] | None = None,
) -> None:
    """Add planned phases (with their deadline jobs) and record them on the timeline."""
    add_phases(session=session, incident=incident, planned=planned, now=now)
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind=kind,
        data={**(extra or {}), **plan_summary(planned)},
    )


def plan_summary(planned: Sequence[planning.PlannedPhase]) -> dict[str, object]:
    """What a ``phases_planned`` entry says of the plan."""
    return {
        "phases": [
            {
                "key": p.key,
                "starts_at": p.starts_at.isoformat(),
                "due_at": p.due_at.isoformat() if p.due_at else None,
                "tasks": len(p.tasks),
            }
            for p in planned
        ]
    }


def lock_row(*, session: Session, incident_id: int) -> Incident:
    """Just the incident row, locked and re-read (enough to check status and add to the
    timeline); NotFound otherwise."""
    incident = session.scalar(
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if incident is None:
        raise NotFound(f"incident {incident_id} not found", details={"field": "incident_id"})
    return incident


def get(*, session: Session, incident_id: int, lock: bool = False) -> Incident:
    """The incident, locked for update when ``lock``; NotFound otherwise."""
    query = select(Incident).where(Incident.id == incident_id).options(*WITH_PLAN)
    if lock:  # and re-read what this session may hold from before the lock
        query = query.with_for_update().execution_options(populate_existing=True)
    incident = session.scalar(query)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found", details={"field": "incident_id"})
    return incident


def check_filters(playbook: Playbook, filters: IncidentFilter) -> None:
    """InvalidInput when a filter names a severity or type the playbook does not know."""
    for severity in filters.severity or []:
        check_severity_and_type(playbook, severity, None)
    for type_ in filters.type or []:
        check_severity_and_type(playbook, None, type_)


def list_incidents(*, session: Session, filters: IncidentFilter) -> tuple[Sequence[Incident], int]:
    """One page of incidents, newest first, and how many match in all."""
    query = select(Incident)
    if filters.status:
        query = query.where(Incident.status.in_(filters.status))
    if filters.severity:
        query = query.where(Incident.severity.in_(filters.severity))
    if filters.type:
        query = query.where(Incident.type.in_(filters.type))
    if filters.q:
        needle = filters.q.lower()
        query = query.where(
            or_(
                func.lower(Incident.title).contains(needle, autoescape=True),
                func.lower(Incident.summary).contains(needle, autoescape=True),
            )
        )
    if filters.created_after:
        query = query.where(Incident.created_at >= filters.created_after)
    if filters.created_before:
        query = query.where(Incident.created_at < filters.created_before)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.options(*WITH_PLAN).order_by(Incident.created_at.desc(), Incident.id.desc())
    items = session.scalars(page.limit(filters.limit).offset(filters.offset)).all()
    return items, total
