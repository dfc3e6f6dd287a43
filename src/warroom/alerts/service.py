"""Ingest normalised alerts: dedup, silence, route, group into incidents, resolve.

The caller holds the transaction and has locked the integration row, so for one
integration one batch is ingested at a time and dedup is exact.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.alerts import routing, silences
from warroom.alerts.batch import (
    Batch,
    IngestResult,
    bounded,
    firing,
    firing_by_fingerprint,
    group_key,
    move,
    record,
)
from warroom.alerts.models import Alert, Integration
from warroom.alerts.normalize import NormalizedAlert
from warroom.clock import Clock
from warroom.incidents import changes, lifecycle
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident
from warroom.incidents.schemas import IncidentCreate, IncidentUpdate
from warroom.playbook.schema import Playbook


def ingest(
    *,
    session: Session,
    playbook: Playbook,
    integration: Integration,
    alerts: list[NormalizedAlert],
    clock: Clock,
) -> IngestResult:
    """Store every alert and apply it to the incidents; all in the caller's transaction."""
    alerts = [bounded(a) for a in alerts]
    now = clock.now()
    batch = Batch(
        session=session,
        playbook=playbook,
        integration=integration,
        clock=clock,
        now=now,
        silences=silences.active(session=session, now=now),
        result=IngestResult(),
        open_alerts=firing_by_fingerprint(session, integration.id, {a.fingerprint for a in alerts}),
    )
    for alert in alerts:
        batch.result.accepted += 1
        if alert.status == "firing":
            _fire(batch, alert)
        else:
            _resolve(batch, alert)
    return batch.result


def _fire(batch: Batch, alert: NormalizedAlert) -> None:
    existing = batch.open_alerts.get(alert.fingerprint)
    if existing is not None:
        existing.count += 1
        existing.last_seen_at = batch.now
        existing.annotations = alert.annotations or existing.annotations
        batch.result.deduplicated += 1
        if existing.silenced_by is not None and existing.incident_id is None:
            _page_once_unsilenced(batch, existing)
        return
    severities = {s.key for s in batch.playbook.severities}
    decision = routing.decide(
        batch.playbook.alert_routing, alert.labels, severities, alert.fingerprint
    )
    row = Alert(
        integration_id=batch.integration.id,
        fingerprint=alert.fingerprint,
        status="firing",
        source=alert.source,
        summary=alert.summary or "(no summary)",
        labels=alert.labels,
        annotations=alert.annotations,
        details=alert.details,
        severity_hint=alert.severity_hint,
        generator_url=alert.generator_url,
        starts_at=alert.starts_at or batch.now,
        first_seen_at=batch.now,
        last_seen_at=batch.now,
        count=1,
        route=decision.route,
        group_key=group_key(batch.integration.id, decision.group_key),
        severity=decision.severity,
    )
    batch.session.add(row)
    batch.open_alerts[row.fingerprint] = row
    batch.result.created += 1
    silence = silences.silencing(batch.silences, alert.labels)
    if silence is not None:
        row.silenced_by = silence.id
        batch.result.silenced += 1
        batch.session.flush()
        return
    if decision.severity is None:  # e.g. severity=info: recorded, no incident
        batch.session.flush()
        return
    _attach(batch, row, decision)


def _page_once_unsilenced(batch: Batch, row: Alert) -> None:
    """A silenced alert still firing after its silence ended opens its incident now."""
    if silences.silencing(batch.silences, row.labels) is not None:
        return
    row.silenced_by = None
    severities = {s.key for s in batch.playbook.severities}
    decision = routing.decide(batch.playbook.alert_routing, row.labels, severities, row.fingerprint)
    if decision.severity is not None:
        _attach(batch, row, decision)


def _attach(batch: Batch, row: Alert, decision: routing.Decision) -> None:
    incident = _incident_for(batch, row, decision)
    if _more_severe(batch.playbook, decision.severity, incident.severity):
        incident = changes.update(
            session=batch.session,
            playbook=batch.playbook,
            incident_id=incident.id,
            changes=IncidentUpdate(
                severity=decision.severity,
                reason=f"a {decision.severity} alert joined: {row.summary}",
            ),
            actor=batch.actor,
            clock=batch.clock,
        )
    row.incident_id = incident.id
    batch.session.flush()
    batch.result.incidents.add(incident.id)
    record(batch, incident, row, "alert_attached", labels=row.labels, source=row.source)


def _more_severe(playbook: Playbook, candidate: str | None, current: str) -> bool:
    """Whether ``candidate`` ranks above ``current`` (the playbook lists the worst first)."""
    order = [s.key for s in playbook.severities]
    return candidate in order and current in order and order.index(candidate) < order.index(current)


def _incident_for(batch: Batch, row: Alert, decision: routing.Decision) -> Incident:
    """The open incident of the alert's group, one resolved within the flap window
    (reopened), or a new one."""
    known = batch.group_incidents.get(row.group_key)
    if known is not None and known.status in ("triggered", "acknowledged"):
        return known
    incident = _find_or_open(batch, row, decision)
    batch.group_incidents[row.group_key] = incident
    return incident


def _find_or_open(batch: Batch, row: Alert, decision: routing.Decision) -> Incident:
    previous = batch.session.scalar(
        select(Alert.incident_id)
        .where(Alert.group_key == row.group_key, Alert.incident_id.is_not(None))
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if previous is not None:
        incident = incidents.lock_row(session=batch.session, incident_id=previous)
        if incident.status == "mitigated":
            return move(batch, incident, "retrigger", "an alert fired again")
        if lifecycle.is_open(incident.status):
            return incident
        window = batch.playbook.alert_routing.flap_window
        if (
            incident.status == "resolved"
            and incident.resolved_at is not None
            and incident.resolved_at >= batch.now - window
        ):
            return move(batch, incident, "reopen", "an alert fired again within the flap window")
    assert decision.severity is not None
    incident, _ = incidents.declare(
        session=batch.session,
        playbook=batch.playbook,
        actor=batch.actor,
        clock=batch.clock,
        data=IncidentCreate(
            title=row.summary,
            severity=decision.severity,
            type=decision.type,
            summary=_describe(row),
            source=batch.integration.kind,
        ),
    )
    return incident


def _describe(row: Alert) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(row.labels.items()))
    return f"{row.summary}\n\nLabels: {labels}" if labels else row.summary


def _resolve(batch: Batch, alert: NormalizedAlert) -> None:
    existing = batch.open_alerts.pop(alert.fingerprint, None)
    if existing is None:
        return  # never seen firing, or already resolved: nothing to do
    existing.status = "resolved"
    existing.ends_at = alert.ends_at or batch.now
    existing.last_seen_at = batch.now
    batch.result.resolved += 1
    batch.session.flush()
    if existing.incident_id is None:
        return
    incident = incidents.lock_row(session=batch.session, incident_id=existing.incident_id)
    batch.result.incidents.add(incident.id)
    record(batch, incident, existing, "alert_resolved")
    still_firing = (
        batch.session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.incident_id == incident.id, Alert.status == "firing")
        )
        or 0
    )
    if still_firing or incident.status not in ("triggered", "acknowledged"):
        return
    severities = {s.key for s in batch.playbook.severities}
    decision = routing.decide(
        batch.playbook.alert_routing, existing.labels, severities, existing.fingerprint
    )
    move(
        batch,
        incident,
        "resolve" if decision.auto_resolve else "mitigate",
        "every alert of the incident resolved",
    )


def acknowledge(
    *,
    session: Session,
    playbook: Playbook,
    integration: Integration,
    fingerprint: str,
    clock: Clock,
) -> int | None:
    """Acknowledge the incident of an open alert (PagerDuty's acknowledge event)."""
    existing = firing(session, integration.id, fingerprint)
    if existing is None or existing.incident_id is None:
        return None
    incident = incidents.lock_row(session=session, incident_id=existing.incident_id)
    if incident.status == "triggered":
        changes.transition(
            session=session,
            playbook=playbook,
            incident_id=incident.id,
            action="acknowledge",
            actor=f"integration:{integration.name}",
            clock=clock,
        )
    return incident.id
