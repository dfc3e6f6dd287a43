"""Put planned phases into the database with their deadline jobs, and retire them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from warroom.db import insert_ids, table_of
from warroom.incidents.models import Incident, Phase, Task
from warroom.incidents.planning import PlannedPhase
from warroom.jobs import service as jobs

PHASE_DUE = "phase_due"
TASK_DUE = "task_due"
PHASES = table_of(Phase)
TASKS = table_of(Task)
LAST_POSITION = select(func.max(PHASES.c.position)).where(  # built once
    PHASES.c.incident_id == bindparam("incident_id")
)


def add_phases(
    *,
    session: Session,
    incident: Incident,
    planned: Sequence[PlannedPhase],
    now: datetime,
    new: bool = False,
) -> None:
    """Create phase and task rows and, in the same transaction, their deadline jobs: a few
    statements for the whole plan (``new``: the incident has no phases yet)."""
    if not planned:
        return
    run = session.connection()  # Core only: the ORM's pending changes need not go first
    last = None
    if not new:
        last = run.scalar(LAST_POSITION, {"incident_id": incident.id})
    first = 0 if last is None else last + 1
    phase_ids = insert_ids(
        session,
        PHASES,
        [
            {
                "incident_id": incident.id,
                "key": plan.key,
                "name": plan.name,
                "stage": plan.stage,
                "position": first + offset,
                "starts_at": plan.starts_at,
                "due_at": plan.due_at,
                "active": True,
            }
            for offset, plan in enumerate(planned)
        ],
    )
    tasks = [
        (phase_id, plan, position, task)
        for phase_id, plan in zip(phase_ids, planned, strict=True)
        for position, task in enumerate(plan.tasks)
    ]
    task_ids = insert_ids(
        session,
        TASKS,
        [
            {
                "incident_id": incident.id,
                "phase_id": phase_id,
                "key": task.key,
                "title": task.title,
                "section": task.section,
                "runbook": task.runbook,
                "position": position,
                "status": "open",
                "due_at": task.due_at,
            }
            for phase_id, _, position, task in tasks
        ],
    )
    deadlines = [
        phase_due_job(phase_id, plan.due_at)
        for phase_id, plan in zip(phase_ids, planned, strict=True)
        if plan.due_at is not None
    ]
    deadlines += [
        task_due_job(task_id, task.due_at)
        for task_id, (_, plan, _, task) in zip(task_ids, tasks, strict=True)
        if task.due_at is not None and task.due_at != plan.due_at
    ]
    jobs.schedule_many(session=session, jobs=deadlines, now=now)
    session.expire(incident, ["phases"])  # loaded again, with the new ones, when next read


def phase_due_job(phase_id: int, due_at: datetime, again: str = "") -> jobs.NewJob:
    return jobs.NewJob(
        kind=PHASE_DUE,
        subject=f"phase:{phase_id}",
        key=f"{PHASE_DUE}:{phase_id}{again}",
        due_at=due_at,
        payload={"phase_id": phase_id},
    )


def task_due_job(task_id: int, due_at: datetime, again: str = "") -> jobs.NewJob:
    return jobs.NewJob(
        kind=TASK_DUE,
        subject=f"task:{task_id}",
        key=f"{TASK_DUE}:{task_id}{again}",
        due_at=due_at,
        payload={"task_id": task_id},
    )


def schedule_phase_due(
    *, session: Session, phase: Phase, due_at: datetime, now: datetime, again: str = ""
) -> None:
    """A job checking the phase at ``due_at``; ``again`` tells a later check apart."""
    jobs.schedule_many(session=session, jobs=[phase_due_job(phase.id, due_at, again)], now=now)


def schedule_task_due(
    *, session: Session, task: Task, due_at: datetime, now: datetime, again: str = ""
) -> None:
    """A job checking a task with its own deadline at ``due_at``."""
    jobs.schedule_many(session=session, jobs=[task_due_job(task.id, due_at, again)], now=now)


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
