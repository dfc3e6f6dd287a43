"""Ingest normalised alerts: dedup, silence, route, group into incidents, resolve.

Many submissions (one per hook request) may be ingested in one transaction: a group
commit. The integrations they name are locked first, so for one integration one batch is
ingested at a time and dedup is exact. Alerts are read and written with a few Core
statements per batch; incidents change through the incident services, whose every change
goes on the timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from warroom.alerts import integrations, routing, silences
from warroom.alerts.batch import (
    MAX_STARTED_ALERTS,
    Batch,
    IngestResult,
    LiveAlert,
    StartedGroup,
    actor_of,
    bounded,
    group_key,
)
from warroom.alerts.integrations import Source
from warroom.alerts.models import Integration
from warroom.alerts.normalize import NormalizedAlert
from warroom.clock import Clock
from warroom.errors import WarroomError
from warroom.incidents import changes
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident
from warroom.incidents.schemas import IncidentCreate, IncidentUpdate
from warroom.paging import escalation
from warroom.playbook.schema import Playbook


@dataclass(frozen=True)
class Entry:
    """The alerts of one accepted request, for an integration already checked: or (PagerDuty's
    acknowledge event) the fingerprint whose incident to acknowledge."""

    integration_id: int
    alerts: Sequence[NormalizedAlert] = ()
    acknowledge: str | None = None


logger = logging.getLogger("warroom.alerts")


def ingest_entries(
    *,
    session: Session,
    playbook: Playbook,
    entries: Sequence[Entry],
    clock: Clock,
    started: list[StartedGroup] | None = None,
) -> list[IngestResult]:
    """Ingest each entry in order, in the caller's transaction; what happened to each (and,
    into ``started``, the alert groups that started firing). The integrations are locked
    first, so for one integration one batch is ingested at a time and dedup stays exact; an
    entry whose integration has gone is skipped."""
    found = integrations.by_ids(session=session, ids={e.integration_id for e in entries}, lock=True)
    now = clock.now()
    batch = Batch(
        session=session,
        playbook=playbook,
        clock=clock,
        now=now,
        silences=silences.active(session=session, now=now),
    )
    results = [IngestResult() for _ in entries]
    accepted = [
        (found[e.integration_id], e, [bounded(a) for a in e.alerts], result)
        for e, result in zip(entries, results, strict=True)
        if e.integration_id in found
    ]
    wanted: dict[int, set[str]] = {}
    for integration, entry, alerts, _ in accepted:
        fingerprints = wanted.setdefault(integration.id, set())
        fingerprints.update(a.fingerprint for a in alerts)
        if entry.acknowledge is not None:
            fingerprints.add(entry.acknowledge)
    batch.load_firing(wanted)
    batch.expected_new = max(1, len(_firing(accepted) - batch.live.keys()))
    for integration, entry, alerts, result in accepted:
        if entry.acknowledge is not None:
            _acknowledge(batch, integration, entry.acknowledge, result)
        for alert in alerts:
            result.accepted += 1
            if alert.status == "firing":
                _fire(batch, integration, alert, result)
            else:
                _resolve(batch, integration, alert, result)
    batch.write_changes()
    batch.entries.insert(session)
    if started is not None:
        started.extend(batch.started.values())
    return results


def _firing(
    accepted: Sequence[tuple[Source, Entry, list[NormalizedAlert], IngestResult]],
) -> set[tuple[int, str]]:
    """The (integration, fingerprint) of every firing alert of the batch."""
    return {
        (integration.id, alert.fingerprint)
        for integration, _, alerts, _ in accepted
        for alert in alerts
        if alert.status == "firing"
    }


def ingest(
    *,
    session: Session,
    playbook: Playbook,
    integration: Integration | Source,
    alerts: list[NormalizedAlert],
    clock: Clock,
) -> IngestResult:
    """Ingest alerts of an integration the caller already holds (customer reports)."""
    [result] = ingest_entries(
        session=session,
        playbook=playbook,
        entries=[Entry(integration_id=integration.id, alerts=alerts)],
        clock=clock,
    )
    return result


def _fire(batch: Batch, integration: Source, alert: NormalizedAlert, result: IngestResult) -> None:
    existing = batch.live.get((integration.id, alert.fingerprint))
    if existing is not None:
        existing.count += 1
        existing.last_seen_at = batch.now
        if alert.annotations and alert.annotations != existing.annotations:
            existing.annotations = alert.annotations
            batch.touch(existing)
        else:
            batch.repeat(existing)
        result.deduplicated += 1
        if existing.silenced_by is not None and existing.incident_id is None:
            _page_once_unsilenced(batch, integration, existing, result)
        return
    decision = _decide(batch, alert.labels, alert.fingerprint)
    group = group_key(integration.id, decision.group_key)
    summary = alert.summary or "(no summary)"
    silence = silences.silencing(batch.silences, alert.labels)
    incident = None
    if silence is None and decision.severity is not None:  # severity None: info, recorded
        incident = _incident_for(batch, integration, group, summary, alert.labels, decision)
    row = batch.insert(
        {
            "integration_id": integration.id,
            "fingerprint": alert.fingerprint,
            "status": "firing",
            "source": alert.source,
            "summary": summary,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "details": alert.details,
            "severity_hint": alert.severity_hint,
            "generator_url": alert.generator_url,
            "starts_at": alert.starts_at or batch.now,
            "first_seen_at": batch.now,
            "last_seen_at": batch.now,
            "count": 1,
            "route": decision.route,
            "group_key": group,
            "severity": decision.severity,
            "silenced_by": silence.id if silence is not None else None,
            "incident_id": incident.id if incident is not None else None,
        }
    )
    result.created += 1
    if silence is not None:
        result.silenced += 1
    if incident is not None:
        _attached(batch, integration, incident, row, result)
        began = batch.started.get(group)
        if began is not None and len(began.alerts) < MAX_STARTED_ALERTS:
            began.alerts.append(alert)


def _decide(batch: Batch, labels: dict[str, str], fingerprint: str) -> routing.Decision:
    return routing.decide(batch.playbook.alert_routing, labels, batch.severities, fingerprint)


def _attached(
    batch: Batch, integration: Source, incident: Incident, row: LiveAlert, result: IngestResult
) -> None:
    result.incidents.add(incident.id)
    batch.attached(incident.id)
    batch.record(
        incident, row, "alert_attached", actor_of(integration), labels=row.labels, source=row.source
    )


def _page_once_unsilenced(
    batch: Batch, integration: Source, row: LiveAlert, result: IngestResult
) -> None:
    """A silenced alert still firing after its silence ended opens its incident now."""
    if silences.silencing(batch.silences, row.labels) is not None:
        return
    row.silenced_by = None
    batch.touch(row)  # its silence, and maybe its incident, change
    decision = _decide(batch, row.labels, row.fingerprint)
    if decision.severity is not None:
        incident = _incident_for(
            batch, integration, row.group_key, row.summary, row.labels, decision
        )
        row.incident_id = incident.id
        _attached(batch, integration, incident, row, result)


def _incident_for(
    batch: Batch,
    integration: Source,
    group: str,
    summary: str,
    labels: dict[str, str],
    decision: routing.Decision,
) -> Incident:
    """The open incident of the alert's group (made more severe when the alert is), one
    resolved within the flap window (reopened), or a new one."""
    known = batch.group_incidents.get(group)
    if known is None or known.status not in ("triggered", "acknowledged"):
        known = _find_or_open(batch, integration, group, summary, labels, decision)
        batch.group_incidents[group] = known
    if _more_severe(batch.playbook, decision.severity, known.severity):
        known = batch.keep(
            changes.update(
                session=batch.session,
                playbook=batch.playbook,
                incident_id=known.id,
                changes=IncidentUpdate(
                    severity=decision.severity,
                    reason=f"a {decision.severity} alert joined: {summary}",
                ),
                actor=actor_of(integration),
                clock=batch.clock,
            )
        )
        batch.group_incidents[group] = known
    return known


def _more_severe(playbook: Playbook, candidate: str | None, current: str) -> bool:
    """Whether ``candidate`` ranks above ``current`` (the playbook lists the worst first)."""
    order = [s.key for s in playbook.severities]
    return candidate in order and current in order and order.index(candidate) < order.index(current)


def _find_or_open(
    batch: Batch,
    integration: Source,
    group: str,
    summary: str,
    labels: dict[str, str],
    decision: routing.Decision,
) -> Incident:
    actor = actor_of(integration)
    previous = batch.previous_incident(group)
    if previous is not None:
        incident = batch.incident(previous)
        if incident.status in ("triggered", "acknowledged"):
            return incident
    batch.started[group] = StartedGroup(group, integration.id, integration.kind, decision)
    if previous is not None:
        if incident.status == "mitigated":
            return batch.move(incident, "retrigger", actor, "an alert fired again")
        window = batch.playbook.alert_routing.flap_window
        if (
            incident.status == "resolved"
            and incident.resolved_at is not None
            and incident.resolved_at >= batch.now - window
        ):
            return batch.move(
                incident, "reopen", actor, "an alert fired again within the flap window"
            )
    assert decision.severity is not None
    incident, _ = incidents.declare(
        session=batch.session,
        playbook=batch.playbook,
        actor=actor,
        clock=batch.clock,
        data=IncidentCreate(
            title=summary,
            severity=decision.severity,
            type=decision.type,
            summary=_describe(summary, labels),
            source=integration.kind,
        ),
        staged=batch.entries,
    )
    if decision.escalation:
        _escalate(batch, incident, decision.escalation, actor)
    return batch.keep(incident)


def _escalate(batch: Batch, incident: Incident, policy: str, actor: str) -> None:
    """Page with the route's policy; a policy that does not exist (the routes live in the
    playbook, the policies in the database) is said loudly on the timeline instead."""
    try:
        escalation.start(
            session=batch.session, incident=incident, policy_ref=policy, actor=actor, now=batch.now
        )
    except WarroomError as exc:  # an unknown policy: the ingest goes on, loudly
        logger.error("incident %s: cannot escalate: %s", incident.id, exc.message)
        batch.entries.add(
            incident=incident,
            at=batch.now,
            actor=actor,
            kind="escalation_failed",
            data={"policy": policy, "reason": exc.message},
        )


def _describe(summary: str, labels: dict[str, str]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return f"{summary}\n\nLabels: {text}" if text else summary


def _resolve(
    batch: Batch, integration: Source, alert: NormalizedAlert, result: IngestResult
) -> None:
    existing = batch.live.pop((integration.id, alert.fingerprint), None)
    if existing is None:
        return  # never seen firing, or already resolved: nothing to do
    existing.status = "resolved"
    existing.ends_at = alert.ends_at or batch.now
    existing.last_seen_at = batch.now
    batch.touch(existing)
    result.resolved += 1
    if existing.incident_id is None:
        return
    incident = batch.incident(existing.incident_id)
    result.incidents.add(incident.id)
    actor = actor_of(integration)
    batch.record(incident, existing, "alert_resolved", actor)
    if batch.resolved(incident.id) or incident.status not in ("triggered", "acknowledged"):
        return
    decision = _decide(batch, existing.labels, existing.fingerprint)
    batch.move(
        incident,
        "resolve" if decision.auto_resolve else "mitigate",
        actor,
        "every alert of the incident resolved",
    )


def _acknowledge(batch: Batch, integration: Source, fingerprint: str, result: IngestResult) -> None:
    """Acknowledge the incident of an open alert (PagerDuty's acknowledge event)."""
    existing = batch.live.get((integration.id, fingerprint))
    if existing is None or existing.incident_id is None:
        return
    incident = batch.incident(existing.incident_id)
    result.incidents.add(incident.id)
    if incident.status == "triggered":
        batch.move(incident, "acknowledge", actor_of(integration), "")
