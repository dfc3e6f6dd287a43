"""What happens when a phase or task deadline passes (run by the engine's jobs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.clock import Clock
from warroom.incidents import lifecycle, timeline
from warroom.incidents.models import Incident, Phase, Task
from warroom.incidents.phases import open_tasks
from warroom.incidents.service import get, lock_row
from warroom.notify import outbox
from warroom.notify.base import Message
from warroom.notify.models import FAILED, PAGE, SENT, SUMMONS, Delivery
from warroom.people.models import Person
from warroom.playbook.schema import Playbook

NOTIFY_CHANNEL = "console"


def _still_counts(incident: Incident, phase: Phase) -> bool:
    if not phase.active:
        return False
    return phase.stage == "post_incident" or lifecycle.is_open(incident.status)


def phase_due(*, session: Session, playbook: Playbook, phase_id: int, clock: Clock) -> None:
    """Record an overdue phase and tell the Incident Commander, if tasks are still open."""
    incident_id = session.scalar(select(Phase.incident_id).where(Phase.id == phase_id))
    if incident_id is None:
        return
    incident = get(session=session, incident_id=incident_id, lock=True)  # lock, then read
    now = clock.now()
    phase = next(p for p in incident.phases if p.id == phase_id)
    pending = open_tasks(phase)
    if not _still_counts(incident, phase) or not pending or phase.overdue_at is not None:
        return
    phase.overdue_at = now
    data = {
        "phase": phase.key,
        "name": phase.name,
        "due_at": phase.due_at.isoformat() if phase.due_at else None,
        "open_tasks": [t.key for t in pending],
    }
    timeline.append(
        session=session, incident=incident, at=now, actor="warroom", kind="phase_overdue", data=data
    )
    lines = "\n".join(f"- {t.title}" for t in pending)
    _tell_commander(
        session=session,
        playbook=playbook,
        incident=incident,
        now=now,
        subject=f"[{incident.severity}] #{incident.id} {phase.name} is overdue",
        body=f"{incident.title}\n\n{len(pending)} task(s) still open:\n{lines}",
    )


def task_due(*, session: Session, playbook: Playbook, task_id: int, clock: Clock) -> None:
    """Record an overdue task with its own deadline and tell the Incident Commander."""
    incident_id = session.scalar(select(Task.incident_id).where(Task.id == task_id))
    if incident_id is None:
        return
    incident = get(session=session, incident_id=incident_id, lock=True)  # lock, then read
    now = clock.now()
    task = next(t for p in incident.phases for t in p.tasks if t.id == task_id)
    if task.status != "open" or not _still_counts(incident, task.phase):
        return
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor="warroom",
        kind="task_overdue",
        data={"task_id": task.id, "task": task.key, "phase": task.phase.key},
    )
    _tell_commander(
        session=session,
        playbook=playbook,
        incident=incident,
        now=now,
        subject=f"[{incident.severity}] #{incident.id} task overdue: {task.title}",
        body=incident.title,
    )


def _tell_commander(
    *,
    session: Session,
    playbook: Playbook,
    incident: Incident,
    now: datetime,
    subject: str,
    body: str,
) -> None:
    role = playbook.role(playbook.commander_role)
    role_name = role.name if role else playbook.commander_role
    holder = next((a for a in incident.roles if a.role_key == playbook.commander_role), None)
    person = session.get(Person, holder.person_id) if holder else None
    if person is None:
        recipient = f"{role_name} (unassigned)"
    else:
        recipient = f"{person.name} <{person.email}>" if person.email else person.name
    delivery = outbox.queue(
        session=session,
        channel=NOTIFY_CHANNEL,
        now=now,
        incident_id=incident.id,
        message=Message(recipient=recipient, subject=subject, body=body),
    )
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor="warroom",
        kind="notification_queued",
        data={
            "delivery_id": delivery.id,
            "channel": NOTIFY_CHANNEL,
            "recipient": recipient,
            "role": playbook.commander_role,
            "subject": subject,
        },
    )


def delivery_outcome(*, session: Session, delivery: Delivery, clock: Clock) -> None:
    """Put a delivery's outcome on its incident's timeline: every failure
    (``notification_failed``), and each page or role summons that went out (``notified``)."""
    if delivery.incident_id is None:
        return
    if delivery.status == FAILED:
        kind = "notification_failed"
    elif delivery.status == SENT and delivery.kind in (PAGE, SUMMONS):
        kind = "notified"
    else:
        return
    incident = lock_row(session=session, incident_id=delivery.incident_id)
    data: dict[str, object] = {
        "delivery_id": delivery.id,
        "channel": delivery.channel,
        "recipient": delivery.recipient,
        "attempts": delivery.attempts,
    }
    if kind == "notification_failed":
        data["error"] = delivery.last_error or ""
    timeline.append(
        session=session, incident=incident, at=clock.now(), actor="warroom", kind=kind, data=data
    )
