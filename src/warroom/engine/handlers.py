"""Which function runs each kind of job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from warroom.clock import Clock
from warroom.engine import events
from warroom.incidents import deadlines
from warroom.incidents.assembly import SUMMON
from warroom.incidents.events import INCIDENT_EVENT
from warroom.incidents.phases import PHASE_DUE, TASK_DUE
from warroom.jobs import service as jobs
from warroom.notify import outbox
from warroom.notify.base import Channel
from warroom.notify.config import ChannelsConfig
from warroom.notify.models import FAILED, MESSAGE, Delivery
from warroom.paging import escalation, summons
from warroom.paging.pager import DIGEST, PAGE_EVENT, Limit, Pager, send_digest
from warroom.playbook.schema import Playbook

logger = logging.getLogger("warroom.engine")
LEASE = timedelta(seconds=120)  # a job waiting for its outside work: longer than any
# channel's timeout (at most 60 s)


@dataclass(frozen=True)
class Outside:
    """What a job does outside any transaction (network calls that may be slow), and how
    their outcome is recorded afterwards, in a transaction of its own (``record`` gets the
    session, what ``work`` returned, the clock and the worker's name). A handler returns one
    instead of making the calls itself, so no database lock is held while they run.

    The job is leased meanwhile and done with the record, unless ``done_first``: then it is
    done at once, and the work is covered by jobs of its own that it leased (``LEASE``)."""

    work: Callable[[], Any]
    record: Callable[[Session, Any, Clock, str], None]
    done_first: bool = False


Handler = Callable[[Session, dict[str, Any], Clock], Outside | None]


@dataclass(frozen=True)
class Batch:
    """A handler that runs several jobs of its kind at once (their payloads in order): on
    SQLite the worker gives it up to ``worker.TOGETHER_AT_MOST`` due jobs in one go (see
    ``worker.run_due``). Used for events, which come in bursts (a storm of alerts opens many
    incidents at once). Its jobs are done when it returns: any outside work it leaves must
    be ``done_first``."""

    run: Callable[[Session, list[dict[str, Any]], Clock], Outside | None]

    def __call__(self, session: Session, payload: dict[str, Any], clock: Clock) -> Outside | None:
        return self.run(session, [payload], clock)


def build_handlers(
    *,
    playbook: Playbook,
    channels: dict[str, Channel],
    configured: ChannelsConfig | None = None,
    base_url: str = "",
    secret_key: str = "",
) -> dict[str, Handler]:
    """The handler of every job kind, bound to the playbook and channels."""
    config = configured or ChannelsConfig()
    subscribers = [events.Subscriber(w.name, w.events, w.url) for w in config.webhooks]
    subscribers += [events.Subscriber(s.name, s.events, s.incidents_channel) for s in config.slack]
    subscribers += [events.Subscriber(t.name, t.events, "the Teams channel") for t in config.teams]

    def phase_due(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        deadlines.phase_due(
            session=session, playbook=playbook, phase_id=int(payload["phase_id"]), clock=clock
        )

    def task_due(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        deadlines.task_due(
            session=session, playbook=playbook, task_id=int(payload["task_id"]), clock=clock
        )

    def deliver(session: Session, payload: dict[str, Any], clock: Clock) -> Outside | None:
        delivery_id = int(payload["delivery_id"])
        if escalation.cancel_stale_page(session=session, delivery_id=delivery_id, now=clock.now()):
            return None
        next_try = outbox.ready(delivery=session.get(Delivery, delivery_id), channels=channels)
        if not isinstance(next_try, outbox.Ready):
            settled(session, next_try, clock)
            return None

        def record(session: Session, error: Exception | None, clock: Clock, me: str) -> None:
            now = clock.now()
            settled(
                session,
                outbox.settle(session=session, delivery_id=delivery_id, error=error, now=now),
                clock,
            )

        if next_try.kind in escalation.PAGES:  # sent holding the incident's lock, so never
            # after an acknowledgement (or a resolution) that committed first
            record(session, next_try.send(), clock, "")
            return None
        return Outside(work=next_try.send, record=record)  # other messages: outside

    def settled(session: Session, delivery: Delivery | None, clock: Clock) -> None:
        """What follows a try: its outcome on the timeline, a failed page's fallback."""
        if delivery is None:
            return
        deadlines.delivery_outcome(session=session, delivery=delivery, clock=clock)
        if delivery.status == FAILED:
            pager.fall_back(session, delivery, clock.now())

    def incident_events(
        session: Session, payloads: list[dict[str, Any]], clock: Clock
    ) -> Outside | None:
        """Queue the events' deliveries, and send them at once, outside the transaction:
        their own jobs are leased meanwhile (and send them, should this worker die)."""
        now = clock.now()
        queued = events.fan_out(
            session=session,
            payloads=payloads,
            subscribers=subscribers,
            base_url=base_url,
            playbook=playbook,
            now=now,
            lease=LEASE,
            sendable=channels.keys(),  # the others' own jobs fail them at once
        )
        ready = [
            outbox.Ready(
                delivery_id=i,
                kind=MESSAGE,
                channel=channels[q.channel],
                message=outbox.first_try(delivery_id=i, queued=q),
            )
            for i, q in queued
            if q.channel in channels
        ]
        if not ready:
            return None

        def record(session: Session, errors: list[Exception | None], clock: Clock, me: str) -> None:
            """Each failed try recorded alone (a savepoint each), so that one whose record
            fails leaves only itself leased, to be sent again when its lease ends."""
            now = clock.now()
            sent = [one for one, error in zip(ready, errors, strict=True) if error is None]
            failed = [(one, e) for one, e in zip(ready, errors, strict=True) if e is not None]
            mine = jobs.finish_leased_many(
                session=session,
                keys=[outbox.job_key(one.delivery_id) for one in sent],
                now=now,
                by=me,
            )  # the others' leases ended and their own jobs took them over
            outbox.settle_sent(
                session=session,
                delivery_ids=[
                    one.delivery_id for one in sent if outbox.job_key(one.delivery_id) in mine
                ],
                now=now,
            )
            for one, error in failed:
                try:
                    with session.begin_nested():
                        if jobs.finish_leased(
                            session=session, key=outbox.job_key(one.delivery_id), now=now, by=me
                        ):
                            delivery = outbox.settle(
                                session=session, delivery_id=one.delivery_id, error=error, now=now
                            )
                            settled(session, delivery, clock)
                except Exception:
                    logger.exception(
                        "recording the failed try of delivery %s failed", one.delivery_id
                    )

        return Outside(work=lambda: [one.send() for one in ready], record=record, done_first=True)

    pager = Pager(
        channels=["console"]
        + [w.name for w in config.webhooks if PAGE_EVENT in w.events]
        + [e.name for e in config.email]
        + [s.name for s in config.slack],
        addresses={e.name: "email" for e in config.email}
        | {s.name: "chat" for s in config.slack}
        | dict.fromkeys(config.twilio.names() if config.twilio else [], "phone"),
        base_url=base_url,
        secret_key=secret_key,
        limits={x.channel: Limit(pages=x.pages, per=x.per) for x in config.limits()},
        fallbacks=config.fallbacks(),
    )

    def escalate(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        escalation.step(session=session, payload=payload, now=clock.now(), pager=pager)

    def summon(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        summons.run(session=session, payload=payload, now=clock.now(), pager=pager)

    def digest(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        send_digest(session=session, payload=payload, now=clock.now())

    def audit(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        escalation.audit(session=session, now=clock.now())

    return {
        escalation.ESCALATE: escalate,
        escalation.AUDIT: audit,
        DIGEST: digest,
        SUMMON: summon,
        PHASE_DUE: phase_due,
        TASK_DUE: task_due,
        outbox.DELIVER: deliver,
        INCIDENT_EVENT: Batch(incident_events),
    }
