"""Incident use-cases: declare, read, list, move through the lifecycle, change.

Callers own the transaction; every change appends to the timeline in it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from warroom.errors import Conflict, InvalidInput, NotFound
from warroom.incidents import lifecycle, planning, timeline
from warroom.incidents.models import IdempotencyKey, Incident, Phase
from warroom.incidents.phases import PHASE_DUE, active_phases, add_phases, retire_phase
from warroom.incidents.schemas import IncidentCreate, IncidentFilter, IncidentUpdate
from warroom.jobs import service as jobs
from warroom.playbook.schema import Playbook

ACTION_TIMES = {
    "acknowledge": "acknowledged_at",
    "mitigate": "mitigated_at",
    "resolve": "resolved_at",
    "close": "closed_at",
}


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
    now: datetime,
    idempotency_key: str | None = None,
) -> tuple[Incident, bool]:
    """Open an incident with its planned phases; returns it and whether it is new."""
    check_severity_and_type(playbook, data.severity, data.type)
    if idempotency_key is not None:
        earlier = _replay(session=session, key=idempotency_key, data=data)
        if earlier is not None:
            return earlier, False
    incident = Incident(
        title=data.title,
        summary=data.summary,
        severity=data.severity,
        type=data.type,
        source=data.source,
        status="triggered",
        created_by=actor,
        created_at=now,
        updated_at=now,
        timeline_count=0,
        timeline_head="",
    )
    session.add(incident)
    session.flush()
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind="declared",
        data=data.model_dump(),
    )
    planned = planning.plan(playbook.phases_for(data.type, data.severity), now)
    _add_planned(session=session, incident=incident, planned=planned, now=now)
    if idempotency_key is not None:
        session.add(
            IdempotencyKey(
                key=idempotency_key,
                request_hash=_request_hash(data),
                incident_id=incident.id,
                created_at=now,
            )
        )
        session.flush()
    return incident, True


def _add_planned(
    *, session: Session, incident: Incident, planned: Sequence[planning.PlannedPhase], now: datetime
) -> None:
    add_phases(session=session, incident=incident, planned=planned, now=now)
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor="warroom",
        kind="phases_planned",
        data=_plan_summary(planned),
    )


def _request_hash(data: IncidentCreate) -> str:
    return hashlib.sha256(json.dumps(data.model_dump(), sort_keys=True).encode()).hexdigest()


def _replay(*, session: Session, key: str, data: IncidentCreate) -> Incident | None:
    row = session.get(IdempotencyKey, key)
    if row is None:
        return None
    if row.request_hash != _request_hash(data):
        raise Conflict(
            "Idempotency-Key was used before with a different request",
            details={"field": "Idempotency-Key"},
        )
    return get(session=session, incident_id=row.incident_id)


def _plan_summary(planned: Sequence[planning.PlannedPhase]) -> dict[str, object]:
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


def get(*, session: Session, incident_id: int, lock: bool = False) -> Incident:
    """The incident, locked for update when ``lock``; NotFound otherwise."""
    query = (
        select(Incident)
        .where(Incident.id == incident_id)
        .options(
            selectinload(Incident.phases).selectinload(Phase.tasks), selectinload(Incident.roles)
        )
    )
    if lock:  # and re-read what this session may hold from before the lock
        query = query.with_for_update().execution_options(populate_existing=True)
    incident = session.scalar(query)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found", details={"field": "incident_id"})
    return incident


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
    page = query.options(
        selectinload(Incident.phases).selectinload(Phase.tasks), selectinload(Incident.roles)
    )
    page = page.order_by(Incident.created_at.desc(), Incident.id.desc())
    items = session.scalars(page.limit(filters.limit).offset(filters.offset)).all()
    return items, total


def transition(
    *,
    session: Session,
    playbook: Playbook,
    incident_id: int,
    action: lifecycle.Action,
    actor: str,
    now: datetime,
    note: str = "",
) -> Incident:
    """Move the incident through its lifecycle; illegal moves change nothing."""
    incident = get(session=session, incident_id=incident_id, lock=True)
    before = incident.status
    incident.status = lifecycle.next_status(before, action)
    if action in ACTION_TIMES:
        setattr(incident, ACTION_TIMES[action], now)
    if action == "reopen":
        incident.acknowledged_at = incident.mitigated_at = None
        incident.resolved_at = incident.closed_at = None
    data: dict[str, object] = {"from": before, "to": incident.status}
    if note:
        data["note"] = note
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind=f"{action}d" if action.endswith("e") else f"{action}ed",
        data=data,
    )
    if action == "resolve":
        _plan_post_incident(session=session, playbook=playbook, incident=incident, now=now)
    if action == "reopen":
        _resume_response(session=session, incident=incident, now=now)
    return incident


def _resume_response(*, session: Session, incident: Incident, now: datetime) -> None:
    """Back to work: post-incident steps wait for the next resolution, and response
    deadlines that passed while the incident was resolved are checked now."""
    for phase in active_phases(incident):
        if phase.stage == "post_incident":
            retire_phase(session=session, phase=phase, now=now)
        elif phase.due_at is not None and phase.due_at <= now and phase.overdue_at is None:
            jobs.schedule(
                session=session,
                kind=PHASE_DUE,
                subject=f"phase:{phase.id}",
                key=f"{PHASE_DUE}:{phase.id}:reopen:{incident.timeline_count}",
                due_at=now,
                now=now,
                payload={"phase_id": phase.id},
            )


def _plan_post_incident(
    *, session: Session, playbook: Playbook, incident: Incident, now: datetime
) -> None:
    existing = {p.key for p in active_phases(incident)}
    planned = [
        planning.plan_phase(stage, now, "post_incident")
        for stage in playbook.post_incident
        if stage.key not in existing
    ]
    if not planned:
        return
    _add_planned(session=session, incident=incident, planned=planned, now=now)


def update(
    *,
    session: Session,
    playbook: Playbook,
    incident_id: int,
    changes: IncidentUpdate,
    actor: str,
    now: datetime,
) -> Incident:
    """Change title, summary, severity or type; a new severity or type re-plans phases."""
    check_severity_and_type(playbook, changes.severity, changes.type)
    incident = get(session=session, incident_id=incident_id, lock=True)
    fields = changes.model_dump(exclude_unset=True, exclude={"reason"}, exclude_none=True)
    changed = {
        k: {"from": getattr(incident, k), "to": v}
        for k, v in fields.items()
        if getattr(incident, k) != v
    }
    if not changed:
        return incident
    for key, change in changed.items():
        setattr(incident, key, change["to"])
    data: dict[str, object] = {"changes": changed}
    if changes.reason:
        data["reason"] = changes.reason
    timeline.append(
        session=session, incident=incident, at=now, actor=actor, kind="updated", data=data
    )
    if "severity" in changed or "type" in changed:
        _replan(session=session, playbook=playbook, incident=incident, actor=actor, now=now)
    return incident


def _replan(
    *, session: Session, playbook: Playbook, incident: Incident, actor: str, now: datetime
) -> None:
    response = [p for p in active_phases(incident) if p.stage == "response"]
    wanted = playbook.phases_for(incident.type, incident.severity)
    change = planning.replan([p.key for p in response], wanted, now)
    for phase in response:
        if phase.key in change.drop:
            retire_phase(session=session, phase=phase, now=now)
    add_phases(session=session, incident=incident, planned=change.add, now=now)
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind="phases_replanned",
        data={"kept": list(change.keep), "dropped": list(change.drop), **_plan_summary(change.add)},
    )
