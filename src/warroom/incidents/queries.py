"""What the dashboard asks: open incidents, overdue tasks, the newest change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.incidents.lifecycle import OPEN_STATUSES
from warroom.incidents.models import Incident, Phase, Task, TimelineEntry
from warroom.incidents.service import WITH_PLAN


@dataclass(frozen=True)
class OverdueTask:
    incident_id: int
    incident_title: str
    severity: str
    task_id: int
    title: str
    due_at: datetime | None


def open_incidents(*, session: Session, limit: int = 100) -> Sequence[Incident]:
    """Open incidents (not resolved or closed), newest first, with their plans."""
    query = (
        select(Incident)
        .where(Incident.status.in_(OPEN_STATUSES))
        .options(*WITH_PLAN)
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def overdue_tasks(*, session: Session, now: datetime, limit: int = 50) -> list[OverdueTask]:
    """Open tasks of open incidents whose deadline has passed, the most overdue first."""
    query = (
        select(Incident.id, Incident.title, Incident.severity, Task.id, Task.title, Task.due_at)
        .join(Task, Task.incident_id == Incident.id)
        .join(Phase, Phase.id == Task.phase_id)
        .where(
            Incident.status.in_(OPEN_STATUSES),
            Phase.active.is_(True),
            Task.status == "open",
            Task.due_at < now,
        )
        .order_by(Task.due_at, Task.id)
        .limit(limit)
    )
    return [OverdueTask(*row) for row in session.execute(query)]


def last_change(*, session: Session, incident_id: int | None = None) -> int:
    """A number that grows with every timeline entry (of one incident, or of all)."""
    if incident_id is None:
        return session.scalar(select(func.max(TimelineEntry.id))) or 0
    count = session.scalar(select(Incident.timeline_count).where(Incident.id == incident_id))
    return count or 0
