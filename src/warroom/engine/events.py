"""Turn an incident event job into one outbox delivery per channel subscribed to it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.incidents.events import describe
from warroom.incidents.models import Incident, RoleAssignment
from warroom.notify import outbox
from warroom.notify.base import Message
from warroom.notify.models import Delivery
from warroom.people.models import Person
from warroom.playbook.schema import Playbook

MAX_ALERTS = 20  # alerts described in one event; the API lists all


def body(
    session: Session, payload: dict[str, Any], base_url: str, playbook: Playbook
) -> str | None:
    """The event as receivers get it (JSON), or None when the incident is gone."""
    incident = session.get(Incident, int(payload["incident_id"]))
    if incident is None:
        return None
    alerts = session.scalars(
        select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id).limit(MAX_ALERTS)
    ).all()
    event = {
        "id": f"incident-{incident.id}-{payload['seq']}",
        "type": payload["type"],
        "timestamp": payload["at"],
        "data": {
            "incident": describe(incident, base_url),
            "roles": roles(session, incident, playbook),
            "alerts": [
                {
                    "id": a.id,
                    "fingerprint": a.fingerprint,
                    "status": a.status,
                    "summary": a.summary,
                    "source": a.source,
                    "labels": a.labels,
                    "starts_at": a.starts_at.isoformat() if a.starts_at else None,
                }
                for a in alerts
            ],
        },
    }
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Subscriber:
    """A channel that wants some incident events, and where they go on it."""

    name: str
    events: Sequence[str]
    recipient: str


def roles(session: Session, incident: Incident, playbook: Playbook) -> list[dict[str, Any]]:
    """Who holds which role: chat channels invite them."""
    rows = session.execute(
        select(RoleAssignment.role_key, Person.name, Person.chat_id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.incident_id == incident.id)
        .order_by(RoleAssignment.id)
    )
    return [
        {"role": key, "role_name": _role_name(playbook, key), "person": name, "chat_id": chat}
        for key, name, chat in rows
    ]


def _role_name(playbook: Playbook, key: str) -> str:
    role = playbook.role(key)
    return role.name if role is not None else key


def fan_out(
    *,
    session: Session,
    payload: dict[str, Any],
    subscribers: Sequence[Subscriber],
    base_url: str,
    playbook: Playbook,
    now: datetime,
    due_at: datetime | None = None,
) -> list[Delivery]:
    """Queue the event for every channel that wants it (their jobs due at ``due_at``,
    default now); the deliveries."""
    targets = [s for s in subscribers if payload["type"] in s.events]
    if not targets:
        return []
    text = body(session, payload, base_url, playbook)
    if text is None:
        return []
    return [
        outbox.queue(
            session=session,
            channel=target.name,
            message=Message(recipient=target.recipient, subject=str(payload["type"]), body=text),
            now=now,
            incident_id=int(payload["incident_id"]),
            due_at=due_at,
        )
        for target in targets
    ]
