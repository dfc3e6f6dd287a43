"""Incident events for outbound channels (webhooks): each is a job written in the
transaction of the change, so an event is never lost and never sent for a change that
rolled back. The engine turns it into one outbox delivery per subscribed channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from warroom.incidents.models import Incident
from warroom.jobs import service as jobs

INCIDENT_EVENT = "incident_event"
WANTED = "warroom_events_wanted"  # set in session.info when some channel subscribes to events
QUEUED = "warroom_events_queued"  # session.info: job key -> the job of each event it queued
RUN_HERE = "warroom_events_run_here"  # session.info: its events run in it; jobs written if not
HELD = "warroom_events_incidents"  # session.info: the incidents of its events, kept in the
# session (whose identity map holds objects only while something else does) for their bodies
TYPES = {  # timeline kind -> event type
    "declared": "incident.triggered",
    "acknowledged": "incident.acknowledged",
    "mitigated": "incident.mitigated",
    "resolved": "incident.resolved",
    "closed": "incident.closed",
    "reopened": "incident.reopened",
    "retriggered": "incident.retriggered",
}


def record(*, session: Session, incident: Incident, kind: str, at: datetime) -> None:
    """Queue the event of a timeline entry of ``kind`` just appended to the incident, when
    some channel subscribes to events (nothing is queued for nobody). In a transaction that
    runs its events itself (``RUN_HERE``), the job is written only if they cannot be run
    there (``engine.worker.run_queued_events``)."""
    if not session.info.get(WANTED):
        return
    job = jobs.NewJob(
        kind=INCIDENT_EVENT,
        subject=f"incident:{incident.id}",
        key=f"{INCIDENT_EVENT}:{incident.id}:{incident.timeline_count}",
        due_at=at,
        payload={
            "incident_id": incident.id,
            "type": TYPES[kind],
            "at": at.isoformat(),
            "seq": incident.timeline_count,
        },
    )
    if not session.info.get(RUN_HERE):
        jobs.schedule_many(session=session, jobs=[job], now=at)
    session.info.setdefault(QUEUED, {})[job.key] = job
    session.info.setdefault(HELD, []).append(incident)


def describe(incident: Incident, base_url: str) -> dict[str, Any]:
    """The incident as events and pages show it to receivers."""
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "type": incident.type,
        "status": incident.status,
        "summary": incident.summary,
        "source": incident.source,
        "created_at": incident.created_at.isoformat(),
        "url": f"{base_url}/api/v1/incidents/{incident.id}",
    }
