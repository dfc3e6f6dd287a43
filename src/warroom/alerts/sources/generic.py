"""The generic JSON shape, for anything that can POST JSON (documented in docs/alerts.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from warroom.alerts.normalize import NormalizedAlert, fingerprint_of


class GenericAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=300)
    status: Literal["firing", "resolved"] = "firing"
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    severity: str | None = Field(default=None, max_length=20)
    source: str = Field(default="generic", max_length=100)
    labels: dict[str, str] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    starts_at: AwareDatetime | None = None
    url: str = Field(default="", max_length=2000)


class GenericPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alerts: list[GenericAlert] = Field(min_length=1, max_length=1000)


def normalize(alert: GenericAlert) -> NormalizedAlert:
    labels = dict(alert.labels)
    if alert.severity:
        labels.setdefault("severity", alert.severity)
    key = alert.dedup_key or fingerprint_of(
        {**labels, "__summary__": alert.summary, "__source__": alert.source}
    )
    started: datetime | None = alert.starts_at
    return NormalizedAlert(
        fingerprint=key,
        status=alert.status,
        summary=alert.summary,
        source=alert.source,
        labels=labels,
        starts_at=started,
        generator_url=alert.url,
        severity_hint=alert.severity,
        details=alert.details,
    )
