"""Incident changes: lifecycle transitions and field updates, with their re-planning.

Each change locks the incident row first and reads the clock after, so timeline times
never go backwards.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from warroom.clock import Clock
from warroom.incidents import events, lifecycle, planning, timeline
from warroom.incidents.models import Incident
from warroom.incidents.phases import (
    active_phases,
    open_tasks,
    retire_phase,
    schedule_phase_due,
    schedule_task_due,
)
from warroom.incidents.schemas import IncidentUpdate
from warroom.incidents.service import add_planned, check_severity_and_type, get
from warroom.playbook.schema import Playbook

ACTION_TIMES = {
    "acknowledge": "acknowledged_at",
    "mitigate": "mitigated_at",
    "resolve": "resolved_at",
    "close": "closed_at",
}
ACTION_KINDS = {
    "acknowledge": "acknowledged",
    "mitigate": "mitigated",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "reopened",
    "retrigger": "retriggered",
}


def transition(
    *,
    session: Session,
    playbook: Playbook,
    incident_id: int,
    action: lifecycle.Action,
    actor: str,
    clock: Clock,
    note: str = "",
) -> Incident:
    """Move the incident through its lifecycle; illegal moves change nothing.

    The ``*_at`` fields describe the current cycle: reopening clears them, and the
    timeline keeps every earlier acknowledgement, mitigation and resolution.
    """
    incident = get(session=session, incident_id=incident_id, lock=True)
    now = clock.now()
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
        kind=ACTION_KINDS[action],
        data=data,
    )
    if ACTION_KINDS[action] in events.TYPES:
        events.record(session=session, incident=incident, kind=ACTION_KINDS[action], at=now)
    if action == "resolve":
        _plan_post_incident(session=session, playbook=playbook, incident=incident, now=now)
    if action == "reopen":
        _resume(session=session, playbook=playbook, incident=incident, actor=actor, now=now)
    return incident


def update(
    *,
    session: Session,
    playbook: Playbook,
    incident_id: int,
    changes: IncidentUpdate,
    actor: str,
    clock: Clock,
) -> Incident:
    """Change title, summary, severity or type; while the incident is open, a new
    severity or type re-plans its phases (a closed one is re-planned if reopened)."""
    check_severity_and_type(playbook, changes.severity, changes.type)
    incident = get(session=session, incident_id=incident_id, lock=True)
    now = clock.now()
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
    if ("severity" in changed or "type" in changed) and lifecycle.is_open(incident.status):
        _replan(session=session, playbook=playbook, incident=incident, actor=actor, now=now)
    return incident


def _replan(
    *, session: Session, playbook: Playbook, incident: Incident, actor: str, now: datetime
) -> None:
    """Fit the response phases to the current type and severity."""
    response = [p for p in active_phases(incident) if p.stage == "response"]
    wanted = playbook.phases_for(incident.type, incident.severity)
    change = planning.replan([p.key for p in response], wanted, now)
    if not change.drop and not change.add:
        return
    for phase in response:
        if phase.key in change.drop:
            retire_phase(session=session, phase=phase, now=now)
    add_planned(
        session=session,
        incident=incident,
        planned=change.add,
        now=now,
        kind="phases_replanned",
        actor=actor,
        extra={"kept": list(change.keep), "dropped": list(change.drop)},
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
    if planned:
        add_planned(session=session, incident=incident, planned=planned, now=now)


def _resume(
    *, session: Session, playbook: Playbook, incident: Incident, actor: str, now: datetime
) -> None:
    """Back to work: post-incident steps wait for the next resolution, the plan follows
    any severity or type change made meanwhile, and response deadlines that passed while
    the incident was resolved are checked now."""
    for phase in active_phases(incident):
        if phase.stage == "post_incident":
            retire_phase(session=session, phase=phase, now=now)
    _replan(session=session, playbook=playbook, incident=incident, actor=actor, now=now)
    again = f":reopen:{incident.timeline_count}"
    for phase in active_phases(incident):
        if phase.due_at is not None and phase.due_at <= now and phase.overdue_at is None:
            schedule_phase_due(session=session, phase=phase, due_at=now, now=now, again=again)
        for task in open_tasks(phase):
            if task.due_at is not None and task.due_at != phase.due_at and task.due_at <= now:
                schedule_task_due(session=session, task=task, due_at=now, now=now, again=again)
