"""One ingest batch (every submission of one group commit): its state, and the few Core
statements that read and write its alerts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from warroom import lean
from warroom.alerts.integrations import Source
from warroom.alerts.models import Alert
from warroom.alerts.normalize import NormalizedAlert
from warroom.alerts.routing import Decision
from warroom.alerts.silences import Active
from warroom.clock import Clock
from warroom.db import inserts, json_value, table_of
from warroom.incidents import changes, lifecycle, timeline
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident
from warroom.playbook.schema import Playbook

MAX_FINGERPRINT = 200
MAX_GROUP_KEY = 400
MAX_STARTED_ALERTS = 20
ALERTS = table_of(Alert)
LIVE_COLUMNS = (
    ALERTS.c.id,
    ALERTS.c.integration_id,
    ALERTS.c.fingerprint,
    cast(ALERTS.c.labels, Text).label("stored_labels"),  # JSON text, read when asked for
    ALERTS.c.annotations,
    ALERTS.c.summary,
    ALERTS.c.source,
    ALERTS.c.group_key,
    ALERTS.c.incident_id,
    ALERTS.c.silenced_by,
    ALERTS.c.count,
    ALERTS.c.last_seen_at,
)
INSERT_ALERTS = insert(ALERTS)
NEW_VALUES = tuple(c.name for c in LIVE_COLUMNS[1:] if c.name != "stored_labels")
STATE_COLUMNS = (  # what ingesting changes of an alert
    "count",
    "last_seen_at",
    "annotations",
    "status",
    "ends_at",
    "silenced_by",
    "incident_id",
)
FIRING = ALERTS.c.status == literal("firing", literal_execute=True)
RESERVE_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('alerts', 'id')) FROM generate_series(1, :n)"
)
# Built once: building a statement costs more than running it on SQLite.
FIRING_OF = select(*LIVE_COLUMNS).where(
    ALERTS.c.integration_id == bindparam("integration_id"),
    FIRING,  # a literal: SQLite uses the partial index only then
    ALERTS.c.fingerprint.in_(bindparam("fingerprints", expanding=True)),
)
FIRING_OF_LISTED = select(*LIVE_COLUMNS).where(  # SQLite: the fingerprints as one parameter
    ALERTS.c.integration_id == bindparam("integration_id"),
    ALERTS.c.status == literal_column("'firing'"),  # in the SQL: the partial index applies
    ALERTS.c.fingerprint.in_(lean.each("fingerprints")),
)
UPDATE_STATE = (
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("alert_id"))
    .values(**{name: bindparam(name) for name in STATE_COLUMNS})
)
UPDATE_SEEN = (  # a repeat changes no more: its annotations are neither encoded nor bound
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("alert_id"))
    .values(count=bindparam("count"), last_seen_at=bindparam("last_seen_at"))
)
FIRING_COUNT = (
    select(func.count())
    .select_from(ALERTS)
    .where(ALERTS.c.incident_id == bindparam("incident_id"), ALERTS.c.status == "firing")
)
LATEST_INCIDENT = (
    select(ALERTS.c.incident_id)
    .where(ALERTS.c.group_key == bindparam("group_key"), ALERTS.c.incident_id.is_not(None))
    .order_by(ALERTS.c.id.desc())
    .limit(1)
)


@dataclass
class IngestResult:
    accepted: int = 0
    created: int = 0
    deduplicated: int = 0
    resolved: int = 0
    silenced: int = 0
    incidents: set[int] = field(default_factory=set)


@dataclass
class StartedGroup:
    """An alert group that started firing in a batch: its incident was declared, reopened or
    retriggered; with the firing alerts that joined it there (at most MAX_STARTED_ALERTS)."""

    key: str
    integration_id: int
    kind: str
    decision: Decision
    alerts: list[NormalizedAlert] = field(default_factory=list)


@dataclass
class LiveAlert:
    """What ingestion needs of a firing alert; changes are written when the batch ends."""

    id: int
    integration_id: int
    fingerprint: str
    stored_labels: dict[str, str] | str  # as read, JSON text until ``labels`` is asked for
    annotations: dict[str, str]
    summary: str
    source: str
    group_key: str
    incident_id: int | None
    silenced_by: int | None
    count: int
    last_seen_at: datetime
    status: str = "firing"
    ends_at: datetime | None = None

    @property
    def labels(self) -> dict[str, str]:
        """The labels: only some alerts need them (a repeat of a firing alert does not), so
        they are decoded the first time they are asked for."""
        labels = self.stored_labels
        if isinstance(labels, str):
            labels = self.stored_labels = json_value(labels)
        return labels


@dataclass
class Batch:
    session: Session
    playbook: Playbook
    clock: Clock
    now: datetime
    silences: Sequence[Active]
    live: dict[tuple[int, str], LiveAlert] = field(default_factory=dict)
    changed: dict[int, LiveAlert] = field(default_factory=dict)
    repeated: dict[int, LiveAlert] = field(default_factory=dict)  # only count, last seen
    group_incidents: dict[str, Incident] = field(default_factory=dict)
    locked: dict[int, Incident] = field(default_factory=dict)
    firing_counts: dict[int, int] = field(default_factory=dict)
    entries: timeline.Staged = field(default_factory=timeline.Staged)
    new: dict[int, tuple[LiveAlert, dict[str, Any]]] = field(default_factory=dict)
    started: dict[str, StartedGroup] = field(default_factory=dict)  # by group key
    expected_new: int = 1  # new alerts the batch may still insert, at most (a hint)
    _free_ids: list[int] = field(default_factory=list)
    _last_id: int | None = None  # SQLite: the last id handed out
    severities: frozenset[str] = field(init=False)  # the playbook's, asked of every alert

    def __post_init__(self) -> None:
        self.severities = frozenset(s.key for s in self.playbook.severities)

    def load_firing(self, wanted: dict[int, set[str]]) -> None:
        """Read the open alerts of these fingerprints (per integration id), a few queries
        for the whole batch."""
        listed = lean.sqlite(self.session)
        for integration_id, fingerprints in wanted.items():
            ordered = sorted(fingerprints)
            if listed:
                params = {"integration_id": integration_id, "fingerprints": lean.listed(ordered)}
                self._keep_live(lean.rows(self.session, FIRING_OF_LISTED, params))
                continue
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                params = {"integration_id": integration_id, "fingerprints": chunk}
                self._keep_live(self.session.connection().execute(FIRING_OF, params).all())

    def _keep_live(self, rows: Sequence[Any]) -> None:
        for row in rows:
            alert = LiveAlert(*row)
            self.live[(alert.integration_id, alert.fingerprint)] = alert

    def insert(self, values: dict[str, Any]) -> LiveAlert:
        """A new firing alert, with its id (it goes on the timeline) but written later with
        the batch's other new alerts, in the state it has then (``write_new``)."""
        alert = LiveAlert(
            id=self._next_id(),
            stored_labels=values["labels"],
            **{name: values[name] for name in NEW_VALUES},
        )
        self.live[(alert.integration_id, alert.fingerprint)] = alert
        self.new[alert.id] = (alert, values)
        self.expected_new = max(1, self.expected_new - 1)
        return alert

    def _next_id(self) -> int:
        """The next alert id: on PostgreSQL reserved from the table's sequence, a block at a
        time; on SQLite counted on from the largest (the transaction holds the write lock,
        taken at BEGIN IMMEDIATE, so no other writer can take the same)."""
        if not self._free_ids:
            connection = self.session.connection()
            if connection.dialect.name == "postgresql":
                self._free_ids = sorted(
                    connection.execute(RESERVE_IDS, {"n": self.expected_new}).scalars(),
                    reverse=True,
                )
            else:
                if self._last_id is None:
                    self._last_id = lean.scalar(self.session, inserts(ALERTS).largest_id, {}) or 0
                self._free_ids = [self._last_id + 1]
        taken = self._free_ids.pop()
        self._last_id = taken
        return taken

    def write_new(self) -> None:
        """Write the new alerts, in the state they have now, with one statement."""
        if not self.new:
            return
        rows = [
            {
                **values,
                "id": alert.id,
                **{name: getattr(alert, name) for name in STATE_COLUMNS},
            }
            for alert, values in self.new.values()
        ]
        self.new = {}
        lean.write(self.session, INSERT_ALERTS, rows)

    def touch(self, alert: LiveAlert) -> None:
        if alert.id not in self.new:  # a new one is written as it is when written
            self.changed[alert.id] = alert
            self.repeated.pop(alert.id, None)

    def repeat(self, alert: LiveAlert) -> None:
        """The alert came again and only its count and last seen changed."""
        if alert.id not in self.new and alert.id not in self.changed:
            self.repeated[alert.id] = alert

    def incident(self, incident_id: int) -> Incident:
        """The incident row, locked once per batch."""
        found = self.locked.get(incident_id)
        if found is None:
            found = incidents.lock_row(session=self.session, incident_id=incident_id)
            self.locked[incident_id] = found
        return found

    def keep(self, incident: Incident) -> Incident:
        self.locked[incident.id] = incident
        return incident

    def record(
        self, incident: Incident, alert: LiveAlert, kind: str, actor: str, **extra: object
    ) -> None:
        """Put what happened to an alert on its incident's timeline."""
        self.entries.add(
            incident=incident,
            at=self.now,
            actor=actor,
            kind=kind,
            data={
                "alert_id": alert.id,
                "fingerprint": alert.fingerprint,
                "summary": alert.summary,
                **extra,
            },
        )

    def write_changes(self) -> None:
        """Write every changed alert with one statement (the repeats with another), then the
        new ones (a stored alert resolved before its fingerprint fired again must be resolved
        first)."""
        if self.repeated:
            lean.write(
                self.session,
                UPDATE_SEEN,
                [
                    {"alert_id": a.id, "count": a.count, "last_seen_at": a.last_seen_at}
                    for a in self.repeated.values()
                ],
            )
            self.repeated = {}
        if self.changed:
            lean.write(
                self.session,
                UPDATE_STATE,
                [
                    {"alert_id": a.id, **{name: getattr(a, name) for name in STATE_COLUMNS}}
                    for a in self.changed.values()
                ],
            )
            self.changed = {}
        self.write_new()

    def attached(self, incident_id: int) -> None:
        if incident_id in self.firing_counts:
            self.firing_counts[incident_id] += 1

    def resolved(self, incident_id: int) -> int:
        """How many alerts of the incident still fire, now that one of them resolved: read
        once per incident and batch, then kept up to date in memory."""
        if incident_id in self.firing_counts:
            self.firing_counts[incident_id] -= 1
        else:
            self.write_changes()  # the resolved alert among them
            self.firing_counts[incident_id] = (
                lean.scalar(self.session, FIRING_COUNT, {"incident_id": incident_id}) or 0
            )
        return self.firing_counts[incident_id]

    def previous_incident(self, group: str) -> int | None:
        """The incident the group's latest attached alert went to (the batch's new alerts,
        not yet written, first)."""
        for alert, _ in reversed(self.new.values()):
            if alert.group_key == group and alert.incident_id is not None:
                return alert.incident_id
        found: int | None = lean.scalar(self.session, LATEST_INCIDENT, {"group_key": group})
        return found

    def move(self, incident: Incident, action: lifecycle.Action, actor: str, note: str) -> Incident:
        return self.keep(
            changes.transition(
                session=self.session,
                playbook=self.playbook,
                incident_id=incident.id,
                action=action,
                actor=actor,
                clock=self.clock,
                note=note,
            )
        )


def actor_of(integration: Source) -> str:
    return f"integration:{integration.name}"


def bounded(alert: NormalizedAlert) -> NormalizedAlert:
    """Fit an alert to the columns: very long fingerprints are hashed, odd severities cut."""
    fingerprint = bounded_fingerprint(alert.fingerprint)
    hint = alert.severity_hint[:20] if alert.severity_hint else None
    if fingerprint == alert.fingerprint and hint == alert.severity_hint:
        return alert
    return replace(alert, fingerprint=fingerprint, severity_hint=hint)


def bounded_fingerprint(fingerprint: str) -> str:
    """The fingerprint as stored: a very long one hashed."""
    if len(fingerprint) > MAX_FINGERPRINT:
        return "sha256:" + hashlib.sha256(fingerprint.encode()).hexdigest()
    return fingerprint


def group_key(integration_id: int, key: str) -> str:
    text = f"{integration_id}/{key}"
    return (
        text
        if len(text) <= MAX_GROUP_KEY
        else "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    )
