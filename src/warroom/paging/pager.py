"""Pages to people: over each person's notification rules, with a signed link that
acknowledges, within per-person page limits.

A person without rules gets a page on every paging channel at once. A rule with a delay
("sms@2m") is an outbox delivery due later; if the incident is acknowledged first, it is
cancelled instead of sent (see ``escalation.cancel_stale_page``). A page over a channel's
limit for that person is held, and one digest job, due when the window ends, tells them
what they missed in a single message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.events import describe
from warroom.incidents.models import Incident
from warroom.incidents.service import lock_row
from warroom.jobs import service as jobs
from warroom.notify import outbox
from warroom.notify.base import Message
from warroom.notify.models import CANCELLED, HELD, MESSAGE, PAGE, Delivery
from warroom.paging import links
from warroom.people.models import Person

PAGE_EVENT = "incident.page"
DIGEST_EVENT = "page.digest"
DIGEST = "page_digest"
DIGESTED = "digested"


@dataclass(frozen=True)
class Limit:
    pages: int
    per: timedelta


@dataclass(frozen=True)
class Pager:
    """How pages go out from this server: its paging channels, links and limits."""

    channels: Sequence[str]  # a person without rules is paged on each of these at once
    base_url: str
    secret_key: str
    limits: Mapping[str, Limit] = field(default_factory=dict)
    # channel -> what it needs of a person ("email", "chat"): without it, not by default
    addresses: Mapping[str, str] = field(default_factory=dict)
    fallbacks: Mapping[str, str] = field(default_factory=dict)  # channel -> the next one

    def page(
        self,
        session: Session,
        *,
        person: Person,
        incident: Incident,
        now: datetime,
        page_id: str,
        about: dict[str, Any],
        kind: str = PAGE,
    ) -> list[Delivery]:
        """Queue one delivery per rule of the person (held over a limit)."""
        link = links.make(
            secret_key=self.secret_key,
            base_url=self.base_url,
            incident_id=incident.id,
            person_id=person.id,
        )
        rules = person.notification_rules or [
            {"channel": name, "after_seconds": 0}
            for name in self.channels
            if _address(person, self.addresses.get(name)) is not None
        ]
        queued: list[Delivery] = []
        for step, rule in enumerate(rules):
            channel = str(rule["channel"])
            again = any(d.channel == channel for d in queued)  # a reminder on one channel
            body = {
                "id": f"{page_id}-{step}" if again else page_id,
                "type": PAGE_EVENT,
                "timestamp": now.isoformat(),
                "data": {
                    "person": {
                        "id": person.id,
                        "name": person.name,
                        "email": person.email,
                        "phone": person.phone,
                        "chat_id": person.chat_id,
                    },
                    "incident": describe(incident, self.base_url),
                    **about,
                    "acknowledge": f"{self.base_url}/api/v1/incidents/{incident.id}/acknowledge",
                    "acknowledge_link": link,
                },
            }
            queued.append(
                outbox.queue(
                    session=session,
                    channel=channel,
                    message=Message(
                        recipient=_address(person, self.addresses.get(channel)) or person.name,
                        subject=f"[{incident.severity}] {incident.title}",
                        body=json.dumps(body, separators=(",", ":")),
                    ),
                    now=now,
                    incident_id=incident.id,
                    kind=kind,
                    person_id=person.id,
                    due_at=now + timedelta(seconds=int(rule["after_seconds"])),
                    held=self._over_limit(session, person, channel, now),
                )
            )
            if queued[-1].status == HELD:
                self._digest_later(session, person, channel, queued[-1], now)
        return queued

    def fall_back(self, session: Session, failed: Delivery, now: datetime) -> Delivery | None:
        """A person's page that failed for good goes out again on its channel's fallback
        (e.g. SMS when Slack fails), and the timeline says so."""
        to = self.fallbacks.get(failed.channel)
        if to is None or failed.person_id is None or failed.kind == MESSAGE:
            return None
        person = session.get(Person, failed.person_id)
        address = _address(person, self.addresses.get(to)) if person is not None else None
        if person is None or address is None or failed.incident_id is None:
            return None
        incident = lock_row(session=session, incident_id=failed.incident_id)
        again = outbox.queue(
            session=session,
            channel=to,
            message=Message(recipient=address, subject=failed.subject, body=failed.body),
            now=now,
            incident_id=failed.incident_id,
            kind=failed.kind,
            person_id=person.id,
        )
        timeline.append(
            session=session,
            incident=incident,
            at=now,
            actor="warroom",
            kind="notification_fallback",
            data={
                "failed_delivery_id": failed.id,
                "from": failed.channel,
                "to": to,
                "delivery_id": again.id,
                "person": person.name,
            },
        )
        return again

    def _over_limit(self, session: Session, person: Person, channel: str, now: datetime) -> bool:
        limit = self.limits.get(channel)
        if limit is None:
            return False
        session.flush()
        recent = session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.person_id == person.id,
                Delivery.channel == channel,
                Delivery.kind != MESSAGE,
                Delivery.status.not_in((HELD, DIGESTED, CANCELLED)),
                Delivery.created_at > now - limit.per,
            )
        )
        return (recent or 0) >= limit.pages

    def _digest_later(
        self, session: Session, person: Person, channel: str, held: Delivery, now: datetime
    ) -> None:
        """One digest per person, channel and window: due when the window ends."""
        limit = self.limits[channel]
        window = int(now.timestamp()) // int(limit.per.total_seconds())
        jobs.schedule(
            session=session,
            kind=DIGEST,
            subject=f"person:{person.id}",
            key=f"{DIGEST}:{person.id}:{channel}:{window}",
            due_at=now + limit.per,
            now=now,
            payload={"person_id": person.id, "channel": channel},
        )


def _address(person: Person, needs: str | None) -> str | None:
    """Where a delivery goes: the email address, chat user id or phone number the channel
    needs (None when the person has none), else the most specific contact."""
    if needs == "email":
        return person.email
    if needs == "chat":
        return person.chat_id
    if needs == "phone":
        return person.phone
    return person.email or person.phone or person.name


def send_digest(*, session: Session, payload: dict[str, Any], now: datetime) -> Delivery | None:
    """Gather the person's held pages on the channel into one message (none: nothing)."""
    person = session.get(Person, int(payload["person_id"]))
    channel = str(payload["channel"])
    held = session.scalars(
        select(Delivery)
        .where(Delivery.person_id == int(payload["person_id"]))
        .where(Delivery.channel == channel, Delivery.status == HELD)
        .order_by(Delivery.id)
        .with_for_update()
    ).all()
    if person is None or not held:
        return None
    for page in held:
        page.status = DIGESTED
        page.sent_at = now
    body = {
        "id": f"digest-{held[0].id}",
        "type": DIGEST_EVENT,
        "timestamp": now.isoformat(),
        "data": {
            "person": {"id": person.id, "name": person.name},
            "channel": channel,
            "text": f"{len(held)} page(s) were held back: you were over this channel's limit",
            "held": [
                {"incident_id": p.incident_id, "subject": p.subject, "at": p.created_at.isoformat()}
                for p in held
            ],
        },
    }
    return outbox.queue(
        session=session,
        channel=channel,
        message=Message(
            recipient=person.email or person.phone or person.name,
            subject=f"warroom: {len(held)} page(s) held back",
            body=json.dumps(body, separators=(",", ":")),
        ),
        now=now,
        person_id=person.id,
    )
