"""The alert intake table: requests are stored here before their 2xx answer, then taken in
order, ingested and deleted in one transaction. An entry that cannot be ingested keeps its
error and is skipped (``GET /api/v1/alerts/intake`` counts them). The entry of a request
that waits for its ingest (``?wait=true``) is kept with its result until the request reads
it: whichever process ingested it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.orm import Session

from warroom.alerts import integrations
from warroom.alerts.batch import IngestResult
from warroom.alerts.models import IntakeEntry
from warroom.alerts.normalize import NormalizedAlert, from_record, to_record
from warroom.alerts.service import Entry
from warroom.alerts.sources import alertmanager
from warroom.db import table_of
from warroom.errors import WarroomError

INTAKE = table_of(IntakeEntry)
T = TypeVar("T")
SCAN_ROWS = 1000  # rows looked at when choosing the next entries to ingest
UNDONE = and_(INTAKE.c.error.is_(None), INTAKE.c.result.is_(None))
NEXT_IDS = (  # built once: the intake reads it before every pass
    select(INTAKE.c.id, INTAKE.c.size).where(UNDONE).order_by(INTAKE.c.id).limit(SCAN_ROWS)
)


@dataclass(frozen=True)
class Submission:
    """What one hook request brings: alerts for the integration with this key, or (PagerDuty's
    acknowledge event) the fingerprint whose incident to acknowledge."""

    key: str
    kind: str
    token: str | None
    alerts: Sequence[NormalizedAlert] = ()
    acknowledge: str | None = None
    wait: bool = False  # answer after ingesting, with what happened
    webhook: Webhook | None = None  # instead of alerts: normalized off the event loop

    @property
    def count(self) -> int:
        """How many alerts it brings."""
        return self.webhook.alerts if self.webhook is not None else len(self.alerts)


@dataclass(frozen=True)
class Webhook:
    """An Alertmanager or Grafana webhook body, already validated, and its alerts' count: the
    journal stores it as it came, and its alerts are normalized off the event loop."""

    body: bytes
    alerts: int
    checked: Sequence[alertmanager.WebhookAlert] = ()  # as validated, for the first notices


@dataclass(frozen=True)
class Stored:
    """A submission stored: its alerts, and the entry's id when the request waits for it."""

    alerts: int
    entry_id: int | None = None
    integration_id: int | None = None


@dataclass(frozen=True)
class State:
    pending: int
    pending_alerts: int
    failed: int
    oldest: datetime | None


def store(
    *, session: Session, submissions: Sequence[Submission], now: datetime
) -> list[Stored | WarroomError]:
    """Store each submission whose key, kind and token check out; for each, what was stored
    or the error it gets. One read and one insert for all of them (and one more for each
    that waits for its entry's id)."""
    found = integrations.by_keys(session=session, keys={s.key for s in submissions})
    outcomes: list[Stored | WarroomError] = []
    rows: list[dict[str, Any]] = []
    for submission, integration in zip(submissions, admit_each(found, submissions), strict=True):
        if isinstance(integration, WarroomError):
            outcomes.append(integration)
            continue
        row = intake_row(
            integration_id=integration.id,
            received_at=now,
            size=max(1, submission.count),
            records=[to_record(a) for a in alerts_of(submission)],
            acknowledge=submission.acknowledge,
            wait=submission.wait,
        )
        entry_id = None
        if submission.wait:  # in order: the rows before it first
            if rows:
                session.execute(insert(INTAKE), rows)
                rows = []
            entry_id = session.execute(insert(INTAKE).returning(INTAKE.c.id), row).scalar_one()
        else:
            rows.append(row)
        outcomes.append(
            Stored(alerts=submission.count, entry_id=entry_id, integration_id=integration.id)
        )
    if rows:
        session.execute(insert(INTAKE), rows)
    return outcomes


def intake_row(
    *,
    integration_id: int,
    received_at: datetime,
    size: int,
    records: list[Any],
    acknowledge: str | None,
    wait: bool = False,
) -> dict[str, Any]:
    """The columns of a new intake entry."""
    return {
        "integration_id": integration_id,
        "received_at": received_at,
        "size": size,
        "alerts": records,
        "acknowledge": acknowledge,
        "error": None,
        "wait": wait,  # result: left out, so SQL NULL (None would be JSON null)
    }


def admit_each(
    found: dict[str, integrations.KeyHolder], submissions: Sequence[Submission]
) -> list[integrations.KeyHolder | WarroomError]:
    """For each submission, its integration once its key, kind and token check out, or the
    error it gets."""
    admitted: list[integrations.KeyHolder | WarroomError] = []
    for one in submissions:
        try:
            admitted.append(integrations.admit(found, one.key, one.kind, one.token))
        except WarroomError as exc:
            admitted.append(exc)
    return admitted


def alerts_of(submission: Submission) -> Sequence[NormalizedAlert]:
    """The submission's alerts, normalized."""
    if submission.webhook is None:
        return submission.alerts
    return from_webhook(submission.webhook.body, submission.kind)


def from_webhook(body: bytes, kind: str) -> list[NormalizedAlert]:
    """The alerts of an Alertmanager or Grafana webhook body validated before."""
    return alertmanager.normalize(alertmanager.WebhookPayload.model_validate_json(body), kind)


def next_ids(*, session: Session, max_alerts: int) -> list[int]:
    """The oldest entries not failed, as many as fit in ``max_alerts`` (at least one)."""
    rows = session.connection().execute(NEXT_IDS)
    return fitting(((entry_id, size) for entry_id, size in rows), max_alerts)


def fitting(sized: Iterable[tuple[T, int]], max_alerts: int) -> list[T]:
    """The first of these (entry, its alerts), as many as fit in ``max_alerts`` (at least one)."""
    chosen: list[T] = []
    total = 0
    for entry, size in sized:
        if chosen and total + size > max_alerts:
            break
        chosen.append(entry)
        total += size
    return chosen


@dataclass(frozen=True)
class Taken:
    id: int
    entry: Entry
    wait: bool


def take(*, session: Session, ids: Sequence[int]) -> list[Taken]:
    """These entries, locked (another process that took them first has ingested them)."""
    rows = session.execute(
        select(
            INTAKE.c.id,
            INTAKE.c.integration_id,
            INTAKE.c.alerts,
            INTAKE.c.acknowledge,
            INTAKE.c.wait,
        )
        .where(INTAKE.c.id.in_(list(ids)), UNDONE)
        .order_by(INTAKE.c.id)
        .with_for_update()
    )
    return [
        Taken(
            id=entry_id,
            entry=Entry(
                integration_id=integration_id,
                alerts=[from_record(record) for record in alerts],
                acknowledge=acknowledge,
            ),
            wait=wait,
        )
        for entry_id, integration_id, alerts, acknowledge, wait in rows
    ]


def finish(*, session: Session, taken: Sequence[Taken], results: Sequence[IngestResult]) -> None:
    """The entries are ingested: delete them, but keep the result of one a request waits for."""
    gone = [t.id for t in taken if not t.wait]
    if gone:
        session.execute(delete(INTAKE).where(INTAKE.c.id.in_(gone)))
    for one, result in zip(taken, results, strict=True):
        if one.wait:
            session.execute(
                update(INTAKE)
                .where(INTAKE.c.id == one.id)
                .values(result=dataclasses.asdict(result) | {"incidents": sorted(result.incidents)})
            )


def outcome(*, session: Session, entry_id: int) -> tuple[bool, IngestResult | None]:
    """Whether the entry is ingested (or set aside), and what ingesting it did."""
    row = session.execute(
        select(INTAKE.c.result, INTAKE.c.error).where(INTAKE.c.id == entry_id)
    ).one_or_none()
    if row is None:
        return True, None
    result, error = row
    if result is None and error is None:
        return False, None
    if result is not None:
        return True, IngestResult(**{**result, "incidents": set(result["incidents"])})
    return True, None


def forget(*, session: Session, entry_id: int) -> None:
    """The waiting request has read the entry's result."""
    session.execute(delete(INTAKE).where(INTAKE.c.id == entry_id, INTAKE.c.result.is_not(None)))


def fail(*, session: Session, entry_id: int, error: str) -> int | None:
    """Set the entry aside with its error; the id of its integration (None: it is gone)."""
    return session.execute(
        update(INTAKE)
        .where(INTAKE.c.id == entry_id)
        .values(error=error[:2000])
        .returning(INTAKE.c.integration_id)
    ).scalar_one_or_none()


def forget_unread(*, session: Session, before: datetime) -> None:
    """Delete results kept for requests that stopped waiting (gone, or timed out)."""
    session.execute(
        delete(INTAKE).where(INTAKE.c.result.is_not(None), INTAKE.c.received_at < before)
    )


def retry_failed(*, session: Session) -> int:
    """Put the entries set aside back in line (after what failed them is fixed)."""
    done = session.execute(update(INTAKE).where(INTAKE.c.error.is_not(None)).values(error=None))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def state(*, session: Session) -> State:
    pending, alerts, oldest = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(INTAKE.c.size), 0),
            func.min(INTAKE.c.received_at),
        ).where(UNDONE)
    ).one()
    failed = session.scalar(select(func.count()).where(INTAKE.c.error.is_not(None))) or 0
    return State(pending=pending, pending_alerts=int(alerts), failed=failed, oldest=oldest)
