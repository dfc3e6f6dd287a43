"""Turn an incident event job into one outbox delivery per channel subscribed to it."""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from warroom.alerts.models import Alert
from warroom.db import table_of
from warroom.incidents.events import describe
from warroom.incidents.models import Incident, RoleAssignment
from warroom.notify import outbox
from warroom.notify.base import Message
from warroom.people.models import Person
from warroom.playbook.schema import Playbook

MAX_ALERTS = 20  # alerts described in one event; the API lists all
# Built once: building a statement costs more than running it on SQLite.
INCIDENTS = select(Incident).where(Incident.id.in_(bindparam("ids", expanding=True)))
ALERTS = table_of(Alert)
FIRST_ALERTS = (  # Core: alerts are written only by Core, so no ORM changes need flushing
    select(
        ALERTS.c.incident_id,
        ALERTS.c.id,
        ALERTS.c.fingerprint,
        ALERTS.c.status,
        ALERTS.c.summary,
        ALERTS.c.source,
        ALERTS.c.labels,
        ALERTS.c.starts_at,
    )
    .where(ALERTS.c.incident_id == bindparam("incident_id"))
    .order_by(ALERTS.c.id)
    .limit(MAX_ALERTS)  # stops after MAX_ALERTS index rows
)
HOLDERS = (
    select(RoleAssignment.incident_id, RoleAssignment.role_key, Person.name, Person.chat_id)
    .join(Person, Person.id == RoleAssignment.person_id)
    .where(RoleAssignment.incident_id.in_(bindparam("ids", expanding=True)))
    .order_by(RoleAssignment.id)
)


def bodies(
    session: Session, payloads: Sequence[dict[str, Any]], base_url: str, playbook: Playbook
) -> list[str | None]:
    """Each event as receivers get it (JSON), or None when its incident is gone; read with
    three queries for them all (the alerts with one limited query per incident)."""
    ids = {int(p["incident_id"]) for p in payloads}
    incidents = _incidents(session, ids)
    alerts = _alerts(session, ids)
    holders = _roles(session, ids, playbook)
    out: list[str | None] = []
    for payload in payloads:
        incident = incidents.get(int(payload["incident_id"]))
        if incident is None:
            out.append(None)
            continue
        event = {
            "id": f"incident-{incident.id}-{payload['seq']}",
            "type": payload["type"],
            "timestamp": payload["at"],
            "data": {
                "incident": describe(incident, base_url),
                "roles": holders.get(incident.id, []),
                "alerts": alerts.get(incident.id, []),
            },
        }
        out.append(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
    return out


def _incidents(session: Session, ids: set[int]) -> dict[int, Incident]:
    """These incidents: those the session holds (its changes to them flushed: nothing changes
    an incident behind the ORM's back) as they are, the others read with one query."""
    held = {}
    for incident_id in ids:
        incident = session.identity_map.get(identity_key(Incident, incident_id))
        if isinstance(incident, Incident) and not inspect(incident).expired:
            held[incident_id] = incident
    missing = sorted(ids - held.keys())
    if missing:
        held |= {i.id: i for i in session.scalars(INCIDENTS, {"ids": missing})}
    return held


def _alerts(session: Session, incident_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    """The first MAX_ALERTS alerts of each incident, as events describe them."""
    found: dict[int, list[dict[str, Any]]] = {}
    run = session.connection()
    rows = (a for i in sorted(incident_ids) for a in run.execute(FIRST_ALERTS, {"incident_id": i}))
    for a in rows:
        found.setdefault(a.incident_id, []).append(
            {
                "id": a.id,
                "fingerprint": a.fingerprint,
                "status": a.status,
                "summary": a.summary,
                "source": a.source,
                "labels": a.labels,
                "starts_at": a.starts_at.isoformat() if a.starts_at else None,
            }
        )
    return found


@dataclass(frozen=True)
class Subscriber:
    """A channel that wants some incident events, and where they go on it."""

    name: str
    events: Sequence[str]
    recipient: str


def _roles(
    session: Session, incident_ids: set[int], playbook: Playbook
) -> dict[int, list[dict[str, Any]]]:
    """Who holds which role in each incident: chat channels invite them."""
    rows = session.execute(HOLDERS, {"ids": sorted(incident_ids)})
    found: dict[int, list[dict[str, Any]]] = {}
    for incident_id, key, name, chat in rows:
        found.setdefault(incident_id, []).append(
            {"role": key, "role_name": _role_name(playbook, key), "person": name, "chat_id": chat}
        )
    return found


def _role_name(playbook: Playbook, key: str) -> str:
    role = playbook.role(key)
    return role.name if role is not None else key


def fan_out(
    *,
    session: Session,
    payloads: Sequence[dict[str, Any]],
    subscribers: Sequence[Subscriber],
    base_url: str,
    playbook: Playbook,
    now: datetime,
    lease: timedelta,
    sendable: Container[str],
) -> list[tuple[int, outbox.Queued]]:
    """Queue each event for every channel that wants it; the deliveries' ids and what they
    carry. The jobs of those to a ``sendable`` channel are leased (due after ``lease``: the
    caller sends them at once), the others' due now."""
    wanted = [(p, [s for s in subscribers if p["type"] in s.events]) for p in payloads]
    wanted = [(p, targets) for p, targets in wanted if targets]
    if not wanted:
        return []
    texts = bodies(session, [p for p, _ in wanted], base_url, playbook)
    messages = [
        outbox.Queued(
            channel=target.name,
            message=Message(recipient=target.recipient, subject=str(payload["type"]), body=text),
            incident_id=int(payload["incident_id"]),
            due_at=now + lease if target.name in sendable else now,
        )
        for (payload, targets), text in zip(wanted, texts, strict=True)
        if text is not None
        for target in targets
    ]
    ids = outbox.queue_many(session=session, messages=messages, now=now)
    return list(zip(ids, messages, strict=True))
