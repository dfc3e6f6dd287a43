"""One ingest batch: its state, and the small steps every alert in it goes through."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts.models import Alert, Integration, Silence
from warroom.alerts.normalize import NormalizedAlert
from warroom.clock import Clock
from warroom.incidents import changes, lifecycle, timeline
from warroom.incidents.models import Incident
from warroom.playbook.schema import Playbook

MAX_FINGERPRINT = 200
MAX_GROUP_KEY = 400


@dataclass
class IngestResult:
    accepted: int = 0
    created: int = 0
    deduplicated: int = 0
    resolved: int = 0
    silenced: int = 0
    incidents: set[int] = field(default_factory=set)


@dataclass
class Batch:
    session: Session
    playbook: Playbook
    integration: Integration
    clock: Clock
    now: datetime
    silences: Sequence[Silence]
    result: IngestResult
    open_alerts: dict[str, Alert] = field(default_factory=dict)
    group_incidents: dict[str, Incident] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return f"integration:{self.integration.name}"


def bounded(alert: NormalizedAlert) -> NormalizedAlert:
    """Fit an alert to the columns: very long fingerprints are hashed, odd severities cut."""
    fingerprint = alert.fingerprint
    if len(fingerprint) > MAX_FINGERPRINT:
        fingerprint = "sha256:" + hashlib.sha256(fingerprint.encode()).hexdigest()
    hint = alert.severity_hint[:20] if alert.severity_hint else None
    return replace(alert, fingerprint=fingerprint, severity_hint=hint)


def group_key(integration_id: int, key: str) -> str:
    text = f"{integration_id}/{key}"
    return (
        text
        if len(text) <= MAX_GROUP_KEY
        else "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    )


def firing(session: Session, integration_id: int, fingerprint: str) -> Alert | None:
    """The open alert with this fingerprint, if any."""
    return firing_by_fingerprint(session, integration_id, {fingerprint}).get(fingerprint)


def firing_by_fingerprint(
    session: Session, integration_id: int, fingerprints: set[str]
) -> dict[str, Alert]:
    """The open alerts of these fingerprints, read in a few queries for a whole batch."""
    found: dict[str, Alert] = {}
    ordered = sorted(fingerprints)
    for start in range(0, len(ordered), 500):
        rows = session.scalars(
            select(Alert).where(
                Alert.integration_id == integration_id,
                Alert.status == "firing",
                Alert.fingerprint.in_(ordered[start : start + 500]),
            )
        )
        found.update((row.fingerprint, row) for row in rows)
    return found


def record(batch: Batch, incident: Incident, row: Alert, kind: str, **extra: object) -> None:
    """Put what happened to an alert on its incident's timeline."""
    timeline.append(
        session=batch.session,
        incident=incident,
        at=batch.clock.now(),
        actor=batch.actor,
        kind=kind,
        data={"alert_id": row.id, "fingerprint": row.fingerprint, "summary": row.summary, **extra},
    )


def move(batch: Batch, incident: Incident, action: lifecycle.Action, note: str) -> Incident:
    return changes.transition(
        session=batch.session,
        playbook=batch.playbook,
        incident_id=incident.id,
        action=action,
        actor=batch.actor,
        clock=batch.clock,
        note=note,
    )
