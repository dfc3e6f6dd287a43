"""Turn an incident event job into one outbox delivery per channel subscribed to it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert
from warroom.incidents.events import describe
from warroom.incidents.models import Incident
from warroom.notify import outbox
from warroom.notify.base import Message
from warroom.notify.config import WebhookConfig

MAX_ALERTS = 20  # alerts described in one event; the API lists all


def body(session: Session, payload: dict[str, Any], base_url: str) -> str | None:
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


def fan_out(
    *,
    session: Session,
    payload: dict[str, Any],
    webhooks: list[WebhookConfig],
    base_url: str,
    now: Any,
) -> int:
    """Queue the event for every webhook that wants it; returns how many."""
    targets = [w for w in webhooks if payload["type"] in w.events]
    if not targets:
        return 0
    text = body(session, payload, base_url)
    if text is None:
        return 0
    for webhook in targets:
        outbox.queue(
            session=session,
            channel=webhook.name,
            message=Message(recipient=webhook.url, subject=str(payload["type"]), body=text),
            now=now,
            incident_id=int(payload["incident_id"]),
        )
    return len(targets)
