"""Render the neutral message for people to read: a subject, plain text and HTML.

A message body is either an event (JSON with ``type`` and ``data``: a page, a digest, a
test) or plain text (phase reminders). Pages and digests are written out in words, with
the acknowledgement link as a button; other JSON is shown as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, select_autoescape

from warroom.notify.base import Message

_HTML = Environment(autoescape=select_autoescape(default=True)).from_string(
    """<!doctype html>
<html><body style="font-family: system-ui, sans-serif; line-height: 1.5">
<h2 style="margin: 0 0 .5em">{{ title }}</h2>
{% for line in lines %}<p style="margin: 0 0 .5em">{{ line }}</p>{% endfor %}
{% if link %}<p><a href="{{ link }}" style="display: inline-block; padding: .6em 1.2em;
background: #0b57d0; color: #fff; text-decoration: none; border-radius: 4px">{{ link_text }}</a></p>
{% endif %}{% if raw %}<pre>{{ raw }}</pre>{% endif %}
</body></html>"""
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def for_people(message: Message) -> Rendered:
    """The message as a person reads it (email)."""
    event = event_of(message.body)
    if event is None:
        return _build(message.subject, [], raw=message.body)
    data: dict[str, Any] = event.get("data") or {}
    if event["type"] == "incident.page":
        return _page(data)
    if event["type"] == "incident.message":
        incident = data["incident"]
        lines = [*str(data["text"]).split("\n\n"), f"Incident: {incident['url']}"]
        return _build(str(data["subject"]), lines)
    if event["type"] == "page.digest":
        held = [f"incident {h['incident_id']}: {h['subject']} ({h['at']})" for h in data["held"]]
        return _build(message.subject, [str(data.get("text", "")), *held])
    return _build(message.subject, [], raw=json.dumps(event, indent=2, ensure_ascii=False))


def _page(data: dict[str, Any]) -> Rendered:
    incident = data["incident"]
    head = f"[{incident['severity']}] {incident['title']}"
    why = page_reason(data)
    lines = [
        f"{why} for incident {incident['id']}, now {incident['status']}.",
        incident.get("summary") or "",
        f"Incident: {incident['url']}",
    ]
    return _build(
        f"{head}: {why.lower()}",
        [line for line in lines if line],
        link=data.get("acknowledge_link"),
        link_text="Acknowledge",
    )


def page_reason(data: dict[str, Any]) -> str:
    """Why this page reaches the person: a level of a policy, or a role."""
    if "role" in data:
        return f"You are called in as {data['role']['name']}"
    if "escalation" in data:
        level = int(data["escalation"]["level"]) + 1
        return f"You are paged (level {level} of {data['escalation']['policy']})"
    return "You are paged"


def _build(
    subject: str,
    lines: list[str],
    *,
    link: str | None = None,
    link_text: str = "",
    raw: str = "",
) -> Rendered:
    text_lines = [*lines]
    if link:
        text_lines.append(f"{link_text}: {link}")
    if raw:
        text_lines.append(raw)
    html = _HTML.render(title=subject, lines=lines, link=link, link_text=link_text, raw=raw)
    return Rendered(subject=subject, text="\n\n".join(text_lines) + "\n", html=html)


def event_of(body: str) -> dict[str, Any] | None:
    """The event a message body holds (JSON with a ``type`` and ``data``), or None for text."""
    if not body.startswith("{"):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        if not isinstance(value.get("data", {}), dict):
            return None
        return value
    return None
