"""Running an escalation: page a level, wait for an acknowledgement, page the next.

Every step is a job written in the transaction that caused it, keyed by escalation, round
and level, so a step runs once however often workers die. A step locks the incident row
before it looks at anything, and acknowledging or resolving takes the same lock: once an
incident is acknowledged, no step of its escalation pages anyone again. Pages are outbox
deliveries (the console and every webhook subscribed to ``incident.page``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.errors import Conflict, InvalidInput, NotFound
from warroom.incidents import timeline
from warroom.incidents.models import Incident
from warroom.incidents.service import lock_row
from warroom.jobs import service as jobs
from warroom.jobs.models import PENDING, Job
from warroom.notify.models import CANCELLED, PAGE, QUEUED, SUMMONS, Delivery
from warroom.oncall import service as schedules
from warroom.oncall import teams
from warroom.oncall.models import Schedule, Team
from warroom.paging import policies
from warroom.paging.models import ACTIVE, Escalation
from warroom.paging.pager import Pager
from warroom.people.models import Person

logger = logging.getLogger("warroom.paging")
ESCALATE = "escalate"
AUDIT = "escalation_audit"
AUDIT_EVERY = timedelta(minutes=1)


def start(
    *,
    session: Session,
    incident: Incident,
    policy_ref: str,
    actor: str,
    now: datetime,
    field: str = "policy",
) -> Escalation:
    """Start escalating a triggered incident (locked by the caller) with the policy, a
    snapshot of it; the first level is paged by a job due now. One active escalation per
    incident. An unknown policy is bad input in ``field``."""
    if incident.status != "triggered":
        raise Conflict(
            f"incident {incident.id} is {incident.status}: only a triggered incident escalates",
            details={"field": field},
        )
    try:
        policy = policies.find(session=session, ref=policy_ref)
    except NotFound as exc:
        raise InvalidInput(field, exc.message) from exc
    running = session.scalar(
        select(Escalation.id).where(
            Escalation.incident_id == incident.id, Escalation.status == ACTIVE
        )
    )
    if running is not None:
        raise Conflict(
            f"incident {incident.id} is already escalating (escalation {running})",
            details={"field": field},
        )
    escalation = Escalation(
        incident_id=incident.id,
        policy_name=policy.name,
        policy=policies.snapshot(policy),
        status=ACTIVE,
        round=0,
        level=0,
        started_at=now,
        ended_because="",
    )
    session.add(escalation)
    session.flush()
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind="escalation_started",
        data={"escalation_id": escalation.id, "policy": policy.name},
    )
    _schedule(session, escalation, due=now, now=now)
    return escalation


def _schedule(
    session: Session, escalation: Escalation, *, due: datetime, now: datetime, again: str = ""
) -> None:
    step = f"{escalation.round}:{escalation.level}"
    jobs.schedule(
        session=session,
        kind=ESCALATE,
        subject=f"escalation:{escalation.id}",
        key=f"{ESCALATE}:{escalation.id}:{step}{again}",
        due_at=due,
        now=now,
        payload={
            "escalation_id": escalation.id,
            "round": escalation.round,
            "level": escalation.level,
        },
    )


def step(
    *,
    session: Session,
    payload: dict[str, Any],
    now: datetime,
    pager: Pager,
) -> None:
    """Run one step: page the level due, then schedule the next (or end)."""
    found = session.get(Escalation, int(payload["escalation_id"]))
    if found is None or found.status != ACTIVE:
        return
    incident = lock_row(session=session, incident_id=found.incident_id)  # the incident first
    escalation = session.scalar(
        select(Escalation)
        .where(Escalation.id == found.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert escalation is not None
    if escalation.status != ACTIVE:
        return
    if (escalation.round, escalation.level) != (payload["round"], payload["level"]):
        return  # a step already taken (an auditor's resume raced the original)
    if incident.status != "triggered":
        _end(escalation, incident.status, now)
        return
    levels: list[dict[str, Any]] = escalation.policy["levels"]
    if escalation.level >= len(levels):
        _exhausted(session, escalation, incident, now)
        return
    level = levels[escalation.level]
    paged = _page(session, escalation, incident, level, now, pager)
    if escalation.level + 1 < len(levels):
        escalation.level += 1
    elif escalation.round < int(escalation.policy["repeat"]):
        escalation.round += 1
        escalation.level = 0
    else:
        escalation.level = len(levels)  # after the last wait: exhausted
    wait = timedelta(seconds=int(level["timeout_seconds"])) if paged else timedelta(0)
    _schedule(session, escalation, due=now + wait, now=now)


def _page(
    session: Session,
    escalation: Escalation,
    incident: Incident,
    level: dict[str, Any],
    now: datetime,
    pager: Pager,
) -> list[Person]:
    """Page everyone the level targets now; put it on the timeline."""
    people = targets(session, level, now)
    for person in people:
        pager.page(
            session,
            person=person,
            incident=incident,
            now=now,
            page_id=f"page-{escalation.id}-{escalation.round}-{escalation.level}-{person.id}",
            about={
                "escalation": {
                    "id": escalation.id,
                    "policy": escalation.policy_name,
                    "round": escalation.round,
                    "level": escalation.level,
                }
            },
        )
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor="warroom",
        kind="paged",
        data={
            "escalation_id": escalation.id,
            "round": escalation.round,
            "level": escalation.level,
            "people": [{"id": p.id, "name": p.name} for p in people],
        },
    )
    if not people:
        logger.error("incident %s: nobody to page at level %s", incident.id, escalation.level)
    return people


def targets(session: Session, level: dict[str, Any], now: datetime) -> list[Person]:
    """The people a level reaches now: its people, whoever is on call on its schedules, and
    its teams (their schedule's on-call, or every member)."""
    found: dict[int, Person] = {}
    for target in level["targets"]:
        reached: list[Person] = []
        if target["kind"] == "person":
            person = session.get(Person, int(target["id"]))
            reached = [person] if person is not None else []
        elif target["kind"] == "schedule":
            schedule = session.get(Schedule, int(target["id"]))
            if schedule is not None:
                reached, _ = schedules.who(session=session, schedule=schedule, at=now)
        else:
            team = session.get(Team, int(target["id"]))
            if team is not None:
                reached = teams.to_page(session=session, team=team, at=now)
        for person in reached:
            found.setdefault(person.id, person)
    return list(found.values())


def _end(escalation: Escalation, because: str, now: datetime) -> None:
    escalation.status = "ended"
    escalation.ended_at = now
    escalation.ended_because = because


def _exhausted(session: Session, escalation: Escalation, incident: Incident, now: datetime) -> None:
    _end(escalation, "exhausted", now)
    logger.error("incident %s: escalation %s paged every level", incident.id, escalation.id)
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor="warroom",
        kind="escalation_exhausted",
        data={"escalation_id": escalation.id, "policy": escalation.policy_name},
    )


def audit(*, session: Session, now: datetime) -> int:
    """Find every escalation of an unacknowledged incident with no step pending, say so on
    its timeline and in the log, and resume it; returns how many. Then run again later."""
    resumed = 0
    for escalation in session.scalars(select(Escalation).where(Escalation.status == ACTIVE)):
        pending = session.scalar(
            select(Job.id)
            .where(Job.subject == f"escalation:{escalation.id}", Job.status == PENDING)
            .limit(1)
        )
        if pending is not None:
            continue
        incident = lock_row(session=session, incident_id=escalation.incident_id)
        if incident.status != "triggered":
            _end(escalation, incident.status, now)
            continue
        logger.error("incident %s: escalation %s had stalled", incident.id, escalation.id)
        timeline.append(
            session=session,
            incident=incident,
            at=now,
            actor="warroom",
            kind="escalation_stalled",
            data={
                "escalation_id": escalation.id,
                "round": escalation.round,
                "level": escalation.level,
            },
        )
        _schedule(session, escalation, due=now, now=now, again=f":resumed:{int(now.timestamp())}")
        resumed += 1
    schedule_audit(session=session, due=now + AUDIT_EVERY, now=now)
    return resumed


def schedule_audit(*, session: Session, due: datetime, now: datetime) -> None:
    """The auditor's next run, once per minute however many workers ask."""
    minute = int(due.timestamp()) // 60
    jobs.schedule(
        session=session,
        kind=AUDIT,
        subject="escalations",
        key=f"{AUDIT}:{minute}",
        due_at=due,
        now=now,
    )


def of_incident(*, session: Session, incident_id: int) -> Sequence[Escalation]:
    return session.scalars(
        select(Escalation).where(Escalation.incident_id == incident_id).order_by(Escalation.id)
    ).all()


PAGES = {  # delivery kind -> the incident states in which it still goes out
    PAGE: ("triggered",),
    SUMMONS: ("triggered", "acknowledged"),
}


def cancel_stale_page(*, session: Session, delivery_id: int, now: datetime) -> bool:
    """Cancel a queued page whose incident moved on before it went out (a page once the
    incident is acknowledged, a role summons once it is mitigated); True when cancelled."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.kind not in PAGES or delivery.status != QUEUED:
        return False
    incident = lock_row(session=session, incident_id=delivery.incident_id or 0)
    if incident.status in PAGES[delivery.kind]:
        return False
    delivery.status = CANCELLED
    delivery.last_error = f"not sent: the incident was {incident.status} first"
    return True
