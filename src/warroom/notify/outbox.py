"""Queue deliveries with the change that caused them, and send them from a job: a try is
made ready in one transaction, sent, and settled (recorded) in the same or another."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from warroom.db import add_written, insert_ids, table_of
from warroom.jobs import service as jobs
from warroom.notify.base import Channel, Message, PermanentError, RetryLater
from warroom.notify.models import FAILED, HELD, MESSAGE, QUEUED, SENT, Delivery

DELIVER = "deliver"
DELIVERIES = table_of(Delivery)
SETTLE_SENT = (  # built once: building it cost more than running it
    update(DELIVERIES)
    .where(DELIVERIES.c.id.in_(bindparam("ids", expanding=True)), DELIVERIES.c.status == QUEUED)
    .values(
        status=SENT, sent_at=bindparam("now"), last_error=None, attempts=DELIVERIES.c.attempts + 1
    )
)
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=10)


def queue(
    *,
    session: Session,
    channel: str,
    message: Message,
    now: datetime,
    incident_id: int | None = None,
    kind: str = MESSAGE,
    person_id: int | None = None,
    due_at: datetime | None = None,
    held: bool = False,
) -> Delivery:
    """Write a delivery row and the job that sends it (at ``due_at``, default now), in the
    caller's transaction; a ``held`` one gets no job (a digest will tell of it)."""
    row = _row(channel, message, incident_id, now, kind=kind, person_id=person_id, held=held)
    delivery = add_written(session, Delivery, row)
    if not held:
        jobs.schedule_many(session=session, jobs=[_first_job(delivery.id, due_at or now)], now=now)
    return delivery


def _row(
    channel: str,
    message: Message,
    incident_id: int | None,
    now: datetime,
    *,
    kind: str = MESSAGE,
    person_id: int | None = None,
    held: bool = False,
) -> dict[str, object]:
    """A new delivery's columns, all but its id."""
    return {
        "incident_id": incident_id,
        "kind": kind,
        "person_id": person_id,
        "status": HELD if held else QUEUED,
        "channel": channel,
        "recipient": message.recipient,
        "subject": message.subject,
        "body": message.body,
        "created_at": now,
        "attempts": 0,
        "sent_at": None,
        "last_error": None,
        "key": message.key or None,
    }


def _first_job(delivery_id: int, due_at: datetime) -> jobs.NewJob:
    """The job that makes a delivery's first try."""
    return jobs.NewJob(
        DELIVER,
        f"delivery:{delivery_id}",
        job_key(delivery_id),
        due_at,
        {"delivery_id": delivery_id},
    )


@dataclass(frozen=True)
class Queued:
    """A message to queue with ``queue_many``."""

    channel: str
    message: Message
    incident_id: int | None
    due_at: datetime  # when its job is due


def queue_many(*, session: Session, messages: list[Queued], now: datetime) -> list[int]:
    """Write a delivery row for each message and the jobs that send them, with one statement
    each, in the caller's transaction (Core only: nothing is added to the session); the
    deliveries' ids, in order."""
    if not messages:
        return []
    rows = [_row(m.channel, m.message, m.incident_id, now) for m in messages]
    ids = insert_ids(session, DELIVERIES, rows)
    pairs = zip(ids, messages, strict=True)
    jobs.schedule_many(session=session, jobs=[_first_job(i, m.due_at) for i, m in pairs], now=now)
    return ids


@dataclass(frozen=True)
class Ready:
    """A queued delivery's next try, ready to go out: sending it needs no database."""

    delivery_id: int
    kind: str
    channel: Channel
    message: Message

    def send(self) -> Exception | None:
        """Send once; the error, if any (a channel may fail in any way)."""
        try:
            self.channel.send(self.message)
        except Exception as exc:
            return exc
        return None


def job_key(delivery_id: int) -> str:
    """The key of a delivery's first job."""
    return f"deliver:{delivery_id}"


def ready(*, delivery: Delivery | None, channels: dict[str, Channel]) -> Ready | Delivery | None:
    """The next try of a delivery still queued; otherwise the delivery as it stands (failed
    here when its channel is not configured), or None when it is gone."""
    if delivery is None or delivery.status != QUEUED:
        return delivery
    channel = channels.get(delivery.channel)
    if channel is None:
        delivery.attempts += 1
        delivery.status = FAILED
        delivery.last_error = f"no channel named {delivery.channel!r} is configured"
        return delivery
    message = _keyed(
        delivery.id,
        delivery.incident_id,
        Message(
            recipient=delivery.recipient,
            subject=delivery.subject,
            body=delivery.body,
            key=delivery.key or "",
        ),
    )
    return Ready(delivery_id=delivery.id, kind=delivery.kind, channel=channel, message=message)


def first_try(*, delivery_id: int, queued: Queued) -> Message:
    """The message of the first try of a delivery just queued with ``queue_many``."""
    return _keyed(delivery_id, queued.incident_id, queued.message)


def _keyed(delivery_id: int, incident_id: int | None, message: Message) -> Message:
    """The message as every try of the delivery sends it: the same key each time (its own,
    when it was tried before it was queued: a first notice)."""
    return Message(
        recipient=message.recipient,
        subject=message.subject,
        body=message.body,
        key=message.key or f"warroom-delivery-{delivery_id}",
        thread=f"incident-{incident_id}" if incident_id else "",
    )


Tried = tuple[str, Message, Exception | None]  # a message tried once: channel, it, its error


class NotTried(Exception):
    """A message handed to the outbox before any try (its sender stopped first)."""


def record_tries(*, session: Session, tries: list[Tried], now: datetime) -> list[int]:
    """Record messages tried once outside the outbox (channel, message, its error), each with
    its own key for every try: a sent one as sent, a failed one as any delivery after a
    failed try (queued again with backoff, or failed for good), one never tried
    (``NotTried``) queued to go now; their ids."""
    if not tries:
        return []
    rows = []
    for channel, message, error in tries:
        row = _row(channel, message, None, now) | {"attempts": 1}
        if error is None:
            row |= {"status": SENT, "sent_at": now}
        elif isinstance(error, NotTried):
            row["attempts"] = 0
        else:
            row["last_error"] = f"{type(error).__name__}: {error}"[:2000]
            if isinstance(error, PermanentError):
                row["status"] = FAILED
        rows.append(row)
    ids = insert_ids(session, DELIVERIES, rows)
    retries = [
        _first_job(delivery_id, now)
        if isinstance(error, NotTried)
        else jobs.NewJob(
            DELIVER,
            f"delivery:{delivery_id}",
            f"deliver:{delivery_id}:1",
            now + _backoff(1, error),
            {"delivery_id": delivery_id},
        )
        for delivery_id, (_, _, error), row in zip(ids, tries, rows, strict=True)
        if error is not None and row["status"] == QUEUED
    ]
    jobs.schedule_many(session=session, jobs=retries, now=now)
    return ids


def settle_sent(*, session: Session, delivery_ids: list[int], now: datetime) -> None:
    """Record the first try of these messages (kind ``message``, no timeline entry) as sent,
    with one statement; those no longer queued (settled meanwhile) are left as they are."""
    if not delivery_ids:
        return
    session.connection().execute(SETTLE_SENT, {"ids": delivery_ids, "now": now})


def settle(
    *, session: Session, delivery_id: int, error: Exception | None, now: datetime
) -> Delivery | None:
    """Record a try: sent, or on failure the next try queued with backoff (after the last
    one, failed). None when the delivery is no longer queued (settled meanwhile)."""
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != QUEUED:
        return None
    delivery.attempts += 1
    if error is not None:
        delivery.last_error = f"{type(error).__name__}: {error}"[:2000]
        if isinstance(error, PermanentError) or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = FAILED
        else:
            jobs.schedule(
                session=session,
                kind=DELIVER,
                subject=f"delivery:{delivery.id}",
                key=f"deliver:{delivery.id}:{delivery.attempts}",
                due_at=now + _backoff(delivery.attempts, error),
                now=now,
                payload={"delivery_id": delivery.id},
            )
        return delivery
    delivery.status = SENT
    delivery.sent_at = now
    delivery.last_error = None
    return delivery


def _backoff(attempts: int, error: Exception) -> timedelta:
    """Exponential backoff with jitter (each wait cut by a random 0-50%, so deliveries that
    failed together do not all come back together), or longer when the receiver said when
    to come back."""
    wait: timedelta = RETRY_BASE * 2 ** (attempts - 1) * random.uniform(0.5, 1.0)
    if isinstance(error, RetryLater):
        wait = max(wait, timedelta(seconds=error.seconds))
    return wait
