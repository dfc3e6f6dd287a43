"""Prometheus Alertmanager's webhook (version 4), also the base of Grafana's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.alerts.normalize import NormalizedAlert, fingerprint_of, summary_of

ZERO_TIME_YEAR = 1  # Alertmanager sends 0001-01-01T00:00:00Z for "not ended"


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _zero_is_none(cls, value: datetime | None) -> datetime | None:
        if value is None or value.year == ZERO_TIME_YEAR:
            return None
        if value.tzinfo is None:
            raise ValueError("must include a time zone")
        return value


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"] | None = None
    alerts: list[WebhookAlert] = Field(min_length=1)
    receiver: str = ""
    groupKey: str = ""


class _CheckedAlert(WebhookAlert):
    model_config = ConfigDict(extra="ignore")


class WebhookCheck(WebhookPayload):
    """What the hooks validate on the event loop, before storing the body as it came: the
    same fields and checks as WebhookPayload, and so the same errors, without keeping the
    fields it does not check (the body is parsed in full when ingested)."""

    model_config = ConfigDict(extra="ignore")

    alerts: list[_CheckedAlert] = Field(min_length=1)  # type: ignore[assignment]


def normalize(payload: WebhookPayload, source: str) -> list[NormalizedAlert]:
    """One normalised alert per alert of the (grouped) notification."""
    return [normalized(alert, source) for alert in payload.alerts]


def normalized(alert: WebhookAlert, source: str) -> NormalizedAlert:
    """One alert of the notification, normalised."""
    extra: dict[str, Any] = alert.model_extra or {}
    return NormalizedAlert(
        fingerprint=alert.fingerprint or fingerprint_of(alert.labels),
        status=alert.status,
        summary=summary_of(alert.labels, alert.annotations),
        source=source,
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=alert.startsAt,
        ends_at=alert.endsAt,
        generator_url=alert.generatorURL,
        severity_hint=alert.labels.get("severity"),
        details={k: v for k, v in extra.items() if isinstance(v, str | int | float)},
    )
