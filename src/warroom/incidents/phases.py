"""Put planned phases into the database with their deadline jobs, and retire them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from warroom.incidents.models import Incident, Phase, Task
from warroom.incidents.planning import PlannedPhase
from warroom.jobs import service as jobs

PHASE_DUE = "phase_due"
TASK_DUE = "task_due"


def add_phases(
    *,
    session: Session,
    incident: Incident,
    planned: Sequence[PlannedPhase],
    now: datetime,
) -> list[Phase]:
    """Create phase and task rows and, in the same transaction, their deadline jobs."""
    position = max((p.position for p in incident.phases), default=-1) + 1
    created = []
    for offset, plan in enumerate(planned):
        phase = Phase(
            key=plan.key,
            name=plan.name,
            stage=plan.stage,
            position=position + offset,
            starts_at=plan.starts_at,
            due_at=plan.due_at,
            active=True,
        )
        phase.tasks = [
            Task(
                incident_id=incident.id,
                key=t.key,
                title=t.title,
                section=t.section,
                runbook=t.runbook,
                position=i,
                status="open",
                due_at=t.due_at,
            )
            for i, t in enumerate(plan.tasks)
        ]
        incident.phases.append(phase)
        created.append(phase)
    session.flush()
    for phase in created:
        _schedule_deadlines(session=session, phase=phase, now=now)
    return created


def _schedule_deadlines(*, session: Session, phase: Phase, now: datetime) -> None:
    if phase.due_at is not None:
        schedule_phase_due(session=session, phase=phase, due_at=phase.due_at, now=now)
    for task in phase.tasks:
        if task.due_at is not None and task.due_at != phase.due_at:
            schedule_task_due(session=session, task=task, due_at=task.due_at, now=now)


def schedule_phase_due(
    *, session: Session, phase: Phase, due_at: datetime, now: datetime, again: str = ""
) -> None:
    """A job checking the phase at ``due_at``; ``again`` tells a later check apart."""
    jobs.schedule(
        session=session,
        kind=PHASE_DUE,
        subject=f"phase:{phase.id}",
        key=f"{PHASE_DUE}:{phase.id}{again}",
        due_at=due_at,
        now=now,
        payload={"phase_id": phase.id},
    )


def schedule_task_due(
    *, session: Session, task: Task, due_at: datetime, now: datetime, again: str = ""
) -> None:
    """A job checking a task with its own deadline at ``due_at``."""
    jobs.schedule(
        session=session,
        kind=TASK_DUE,
        subject=f"task:{task.id}",
        key=f"{TASK_DUE}:{task.id}{again}",
        due_at=due_at,
        now=now,
        payload={"task_id": task.id},
    )


def retire_phase(*, session: Session, phase: Phase, now: datetime) -> None:
    """Take a phase out of the plan (it stays stored) and cancel its pending deadlines."""
    phase.active = False
    jobs.cancel_pending(session=session, subject=f"phase:{phase.id}", now=now)
    for task in phase.tasks:
        jobs.cancel_pending(session=session, subject=f"task:{task.id}", now=now)


def active_phases(incident: Incident) -> list[Phase]:
    return [p for p in incident.phases if p.active]


def open_tasks(phase: Phase) -> list[Task]:
    return [t for t in phase.tasks if t.status == "open"]
