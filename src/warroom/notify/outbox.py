"""Queue deliveries with the change that caused them, and send them from a job."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from warroom.jobs import service as jobs
from warroom.notify.base import Channel, Message, PermanentError, RetryLater
from warroom.notify.models import FAILED, HELD, MESSAGE, QUEUED, SENT, Delivery

DELIVER = "deliver"
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
    delivery = Delivery(
        incident_id=incident_id,
        kind=kind,
        person_id=person_id,
        status=HELD if held else QUEUED,
        channel=channel,
        recipient=message.recipient,
        subject=message.subject,
        body=message.body,
        created_at=now,
        attempts=0,
    )
    session.add(delivery)
    session.flush()
    if held:
        return delivery
    jobs.schedule(
        session=session,
        kind=DELIVER,
        subject=f"delivery:{delivery.id}",
        key=f"deliver:{delivery.id}",
        due_at=due_at or now,
        now=now,
        payload={"delivery_id": delivery.id},
    )
    return delivery


def send(
    *, session: Session, delivery_id: int, channels: dict[str, Channel], now: datetime
) -> Delivery | None:
    """Try a queued delivery once; on failure queue the next try with backoff, and after
    the last one mark it failed. Returns the delivery as it now stands."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != QUEUED:
        return delivery
    delivery.attempts += 1
    channel = channels.get(delivery.channel)
    if channel is None:
        delivery.status = FAILED
        delivery.last_error = f"no channel named {delivery.channel!r} is configured"
        return delivery
    message = Message(
        recipient=delivery.recipient,
        subject=delivery.subject,
        body=delivery.body,
        key=f"warroom-delivery-{delivery.id}",
        thread=f"incident-{delivery.incident_id}" if delivery.incident_id else "",
    )
    try:
        channel.send(message)
    except Exception as exc:  # a channel may fail in any way; the outbox records and retries
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if isinstance(exc, PermanentError) or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = FAILED
        else:
            jobs.schedule(
                session=session,
                kind=DELIVER,
                subject=f"delivery:{delivery.id}",
                key=f"deliver:{delivery.id}:{delivery.attempts}",
                due_at=now + _backoff(delivery.attempts, exc),
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
