"""What the dashboard asks: open incidents, overdue tasks, the newest change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from warroom.incidents.lifecycle import OPEN_STATUSES
from warroom.incidents.models import Incident, Phase, Task, TimelineEntry
from warroom.incidents.views import progress, state_of


@dataclass(frozen=True)
class OverdueTask:
    incident_id: int
    incident_title: str
    severity: str
    task_id: int
    title: str
    due_at: datetime | None


@dataclass(frozen=True)
class Card:
    """An open incident as the dashboard shows it."""

    id: int
    title: str
    severity: str
    status: str
    type: str
    created_at: datetime
    phase: str | None = None
    next_due_at: datetime | None = None


def open_cards(*, session: Session, now: datetime, limit: int = 100) -> list[Card]:
    """Open incidents (not resolved or closed), newest first, each with its current phase
    and next deadline: two queries, no plan loaded (phases are counted, not read)."""
    heads = session.execute(
        select(
            Incident.id,
            Incident.title,
            Incident.severity,
            Incident.status,
            Incident.type,
            Incident.created_at,
        )
        .where(Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(limit)
    ).all()
    still_open = func.coalesce(func.sum(case((Task.status == "open", 1), else_=0)), 0)
    phases = session.execute(
        select(
            Phase.incident_id,
            Phase.name,
            Phase.starts_at,
            Phase.due_at,
            func.count(Task.id),
            still_open,
        )
        .outerjoin(Task, Task.phase_id == Phase.id)
        .where(Phase.incident_id.in_([h.id for h in heads]), Phase.active.is_(True))
        .group_by(Phase.id)
        .order_by(Phase.incident_id, Phase.position)
    ).all()
    plans: dict[int, list[tuple[str, str, datetime, datetime | None]]] = {}
    for incident_id, name, starts_at, due_at, tasks, left in phases:
        state = state_of(
            tasks=tasks, still_open=int(left), starts_at=starts_at, due_at=due_at, now=now
        )
        plans.setdefault(incident_id, []).append((name, state, starts_at, due_at))
    cards = []
    for head in heads:
        phase, next_due = progress(plans.get(head.id, []), now)
        cards.append(Card(*head, phase=phase, next_due_at=next_due))
    return cards


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
