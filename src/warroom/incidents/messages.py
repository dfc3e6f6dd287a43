"""Messages from the playbook's templates (internal alert, customer notification, post-incident):
filled from the incident and the values given, rendered in a sandbox, and queued on the
channels asked for. A placeholder without a value refuses the send, naming it: nothing goes
out with a hole in it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field
from sqlalchemy.orm import Session

from warroom.errors import InvalidInput, NotFound
from warroom.incidents import timeline
from warroom.incidents.events import describe
from warroom.incidents.models import Incident
from warroom.inputs import Input
from warroom.notify import outbox
from warroom.notify.base import Message
from warroom.notify.slack import channel_name
from warroom.people.models import Person
from warroom.playbook.duration import format_duration
from warroom.playbook.schema import Playbook, Template

MESSAGE_EVENT = "incident.message"
SANDBOX = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class MessageRequest(Input):
    template: str = Field(min_length=1, max_length=100, description="A template key.")
    channels: list[str] = Field(min_length=1, max_length=20, description="Channel names.")
    to: list[str] = Field(
        default_factory=list, max_length=100, description="Recipients where a channel needs them."
    )
    values: dict[str, str] = Field(default_factory=dict, description="Placeholder values.")


@dataclass(frozen=True)
class Sent:
    subject: str
    text: str
    deliveries: list[int]


def known_values(
    *, session: Session, playbook: Playbook, incident: Incident, base_url: str, now: datetime
) -> dict[str, str]:
    """What the incident itself fills in."""
    severity = playbook.severity(incident.severity)
    every = severity.update_every if severity else None
    commander = next((r for r in incident.roles if r.role_key == "incident-commander"), None)
    holder = session.get(Person, commander.person_id) if commander else None
    values = {
        "id": str(incident.id),
        "title": incident.title,
        "description": incident.title,
        "summary": incident.summary or incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "time": incident.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "started_at": incident.created_at.strftime("%Y-%m-%d %H:%M UTC"),
        "date": now.strftime("%Y-%m-%d"),
        "war_room": f"#{channel_name({'id': incident.id, 'title': incident.title})}",
        "url": f"{base_url}/api/v1/incidents/{incident.id}",
    }
    if holder is not None:
        values["incident_commander"] = holder.name
    if every is not None:
        values["update_frequency"] = format_duration(every)
        values["next_update"] = (now + every).strftime("%Y-%m-%d %H:%M UTC")
    return values


def render(template: Template, values: Mapping[str, str]) -> tuple[str, str]:
    """Subject and text; InvalidInput naming every placeholder left without a value."""
    sources = [template.subject or template.name, template.body]
    needed: set[str] = set()
    for source in sources:
        needed |= meta.find_undeclared_variables(SANDBOX.parse(source))
    missing = sorted(needed - set(values))
    if missing:
        raise InvalidInput(
            f"values.{missing[0]}",
            f"template {template.key!r} needs a value for {', '.join(missing)}",
        )
    subject, text = (SANDBOX.from_string(s).render(**values) for s in sources)
    return subject.strip(), text.strip()


def send(
    *,
    session: Session,
    playbook: Playbook,
    incident: Incident,
    request: MessageRequest,
    channels: Sequence[str],
    fixed_recipients: Mapping[str, str],
    actor: str,
    base_url: str,
    now: datetime,
    dry_run: bool = False,
) -> Sent:
    """Render the template and queue it on each channel (the incident is locked by the
    caller); returns what was said and the delivery ids (none for a ``dry_run``).
    ``fixed_recipients``: where a channel sends that has one place (Slack's #incidents, a
    webhook's URL); the others (email, SMS) send to each of ``to``."""
    template = next((t for t in playbook.templates if t.key == request.template), None)
    if template is None:
        known = ", ".join(t.key for t in playbook.templates)
        raise NotFound(
            f"no template {request.template!r}; one of {known}", details={"field": "template"}
        )
    for index, name in enumerate(request.channels):
        if name not in channels:
            raise InvalidInput(f"channels[{index}]", f"no channel named {name!r} is configured")
    values = known_values(
        session=session, playbook=playbook, incident=incident, base_url=base_url, now=now
    ) | dict(request.values)
    subject, text = render(template, values)
    ids: list[int] = []
    if dry_run:
        return Sent(subject, text, ids)
    body = json.dumps(
        {
            "id": f"message-{incident.id}-{incident.timeline_count + 1}",
            "type": MESSAGE_EVENT,
            "timestamp": now.isoformat(),
            "data": {
                "incident": describe(incident, base_url),
                "template": template.key,
                "audience": template.audience,
                "subject": subject,
                "text": text,
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    for name in request.channels:
        fixed = fixed_recipients.get(name)
        recipients = [fixed] if fixed else request.to
        if not recipients:
            raise InvalidInput("to", f"say whom channel {name!r} sends to (email, SMS)")
        for recipient in recipients:
            delivery = outbox.queue(
                session=session,
                channel=name,
                message=Message(recipient=recipient, subject=subject, body=body),
                now=now,
                incident_id=incident.id,
            )
            ids.append(delivery.id)
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor=actor,
        kind="message_queued",
        data={
            "template": template.key,
            "channels": list(request.channels),
            "subject": subject,
            "text": text,
            "deliveries": ids,
        },
    )
    return Sent(subject, text, ids)
