"""The PagerDuty Events API v2 shape, so senders of PagerDuty events work unchanged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from warroom.alerts.normalize import NormalizedAlert

PD_SEVERITIES = ("critical", "error", "warning", "info")


class EventPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class Event(BaseModel):
    model_config = ConfigDict(extra="allow")

    routing_key: str = Field(min_length=1, max_length=200)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: EventPayload | None = None
    client: str | None = None
    client_url: str | None = None


def missing_fields(event: Event) -> list[str]:
    """What PagerDuty would reject beyond the schema: a trigger needs a payload, the
    others a dedup_key."""
    if event.event_action == "trigger" and event.payload is None:
        return ["'payload' is missing or blank"]
    if event.event_action != "trigger" and not event.dedup_key:
        return ["'dedup_key' is missing or blank"]
    return []


def dedup_key_of(event: Event) -> str:
    """The event's dedup_key, or a new one (PagerDuty makes one up when none is sent)."""
    return event.dedup_key or uuid.uuid4().hex


def normalize(event: Event, dedup_key: str) -> NormalizedAlert:
    """A trigger or resolve event as a normalised alert (acknowledge is handled apart)."""
    payload = event.payload
    labels: dict[str, str] = {}
    if payload is not None:
        labels = {
            k: v
            for k, v in {
                "source": payload.source,
                "severity": payload.severity,
                "component": payload.component,
                "group": payload.group,
                "class": payload.class_,
            }.items()
            if v
        }
    details = payload.custom_details if payload is not None else None
    return NormalizedAlert(
        fingerprint=dedup_key,
        status="resolved" if event.event_action == "resolve" else "firing",
        summary=payload.summary[:300] if payload else "",
        source="events-v2",
        labels=labels,
        starts_at=payload.timestamp if payload else None,
        generator_url=event.client_url or "",
        severity_hint=payload.severity if payload else None,
        details=details if isinstance(details, dict) else ({"details": details} if details else {}),
    )
