"""Which function runs each kind of job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from warroom.clock import Clock
from warroom.engine import events
from warroom.incidents import deadlines
from warroom.incidents.assembly import SUMMON
from warroom.incidents.events import INCIDENT_EVENT
from warroom.incidents.phases import PHASE_DUE, TASK_DUE
from warroom.notify import outbox
from warroom.notify.base import Channel
from warroom.notify.config import ChannelsConfig
from warroom.notify.models import FAILED
from warroom.paging import escalation, summons
from warroom.paging.pager import DIGEST, PAGE_EVENT, Limit, Pager, send_digest
from warroom.playbook.schema import Playbook

Handler = Callable[[Session, dict[str, Any], Clock], None]


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

    def deliver(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        if escalation.cancel_stale_page(
            session=session, delivery_id=int(payload["delivery_id"]), now=clock.now()
        ):
            return
        delivery = outbox.send(
            session=session,
            delivery_id=int(payload["delivery_id"]),
            channels=channels,
            now=clock.now(),
        )
        if delivery is None:
            return
        deadlines.delivery_outcome(session=session, delivery=delivery, clock=clock)
        if delivery.status == FAILED:
            pager.fall_back(session, delivery, clock.now())

    def incident_event(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        events.fan_out(
            session=session,
            payload=payload,
            subscribers=subscribers,
            playbook=playbook,
            base_url=base_url,
            now=clock.now(),
        )

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
        INCIDENT_EVENT: incident_event,
    }
