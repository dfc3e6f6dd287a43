"""The work inside an incident: roles, tasks and notes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from warroom.clock import Clock
from warroom.errors import Conflict, InvalidInput, NotFound
from warroom.incidents import timeline
from warroom.incidents.assembly import assignment_data
from warroom.incidents.models import Incident, RoleAssignment, Task, TimelineEntry
from warroom.incidents.phases import active_phases
from warroom.incidents.service import get
from warroom.people import service as people
from warroom.playbook.schema import Playbook


def assign_role(
    *,
    session: Session,
    playbook: Playbook,
    incident_id: int,
    role_key: str,
    person_id: int,
    actor: str,
    clock: Clock,
) -> Incident:
    """Give a response role to a person, replacing whoever held it."""
    role = playbook.role(role_key)
    if role is None:
        known = ", ".join(r.key for r in playbook.roles)
        raise NotFound(f"unknown role {role_key!r}; one of {known}", details={"field": "role"})
    person = people.get(session=session, person_id=person_id)
    incident = get(session=session, incident_id=incident_id, lock=True)
    now = clock.now()
    current = next((a for a in incident.roles if a.role_key == role_key), None)
    if current is not None and current.person_id == person.id:
        return incident
    data = assignment_data(role, person)
    if current is not None:
        data["replaced_person_id"] = current.person_id
        current.person_id, current.assigned_at, current.assigned_by = person.id, now, actor
    else:
        incident.roles.append(
            RoleAssignment(
                role_key=role.key, person_id=person.id, assigned_at=now, assigned_by=actor
            )
        )
    timeline.append(
        session=session, incident=incident, at=now, actor=actor, kind="role_assigned", data=data
    )
    return incident


def unassign_role(
    *, session: Session, incident_id: int, role_key: str, actor: str, clock: Clock
) -> Incident:
    """Leave a role unheld."""
    incident = get(session=session, incident_id=incident_id, lock=True)
    now = clock.now()
    current = next((a for a in incident.roles if a.role_key == role_key), None)
    if current is None:
        raise NotFound(f"role {role_key!r} is not assigned", details={"field": "role"})
    incident.roles.remove(current)
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind="role_unassigned",
        data={"role": role_key, "person_id": current.person_id},
    )
    return incident


def find_task(incident: Incident, ref: str) -> Task:
    """A task of an active phase by id, ``key`` or ``phase-key/task-key``."""
    tasks = [(p.key, t) for p in active_phases(incident) for t in p.tasks]
    if ref.isascii() and ref.isdigit():
        matches = [t for _, t in tasks if t.id == int(ref)]
    elif "/" in ref:
        phase_key, task_key = ref.split("/", 1)
        matches = [t for pk, t in tasks if pk == phase_key and t.key == task_key]
    else:
        matches = [t for _, t in tasks if t.key == ref]
    if not matches:
        raise NotFound(f"incident {incident.id} has no task {ref!r}", details={"field": "task"})
    if len(matches) > 1:
        raise Conflict(
            f"task {ref!r} is in several phases; use phase-key/task-key or the id",
            details={"field": "task"},
        )
    return matches[0]


def set_task(
    *,
    session: Session,
    incident_id: int,
    task_ref: str,
    status: str,
    actor: str,
    clock: Clock,
    reason: str = "",
) -> Task:
    """Mark a task done, skipped (a reason is required) or open again."""
    if status not in ("done", "skipped", "open"):
        raise InvalidInput("status", "must be done, skipped or open")
    if status == "skipped" and not reason.strip():
        raise InvalidInput("reason", "skipping a task needs a reason")
    incident = get(session=session, incident_id=incident_id, lock=True)
    now = clock.now()
    task = find_task(incident, task_ref)
    if task.status == status:
        raise Conflict(f"task {task.key!r} is already {status}", details={"field": "status"})
    before = task.status
    task.status = status
    task.done_at = now if status != "open" else None
    task.done_by = actor if status != "open" else None
    task.skip_reason = reason.strip() if status == "skipped" else None
    kind = {"done": "task_completed", "skipped": "task_skipped", "open": "task_reopened"}[status]
    data: dict[str, object] = {
        "task_id": task.id,
        "task": task.key,
        "title": task.title,
        "phase": task.phase.key,
        "from": before,
    }
    if status == "skipped":
        data["reason"] = task.skip_reason
    timeline.append(session=session, incident=incident, at=now, actor=actor, kind=kind, data=data)
    return task


def add_note(
    *, session: Session, incident_id: int, text: str, actor: str, clock: Clock
) -> TimelineEntry:
    """Add a free-text note to the timeline."""
    if not text.strip():
        raise InvalidInput("text", "a note cannot be empty")
    incident = get(session=session, incident_id=incident_id, lock=True)
    now = clock.now()
    return timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind="note",
        data={"text": text.strip()},
    )
