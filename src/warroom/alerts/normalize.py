"""The one alert model every source is turned into."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

AlertStatus = Literal["firing", "resolved"]


@dataclass(frozen=True)
class NormalizedAlert:
    fingerprint: str
    status: AlertStatus
    summary: str
    source: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""
    severity_hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def fingerprint_of(labels: dict[str, str]) -> str:
    """A stable fingerprint of a label set (order does not matter)."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def summary_of(labels: dict[str, str], annotations: dict[str, str]) -> str:
    """The best one-line description the labels and annotations give."""
    for key in ("summary", "title", "description", "message"):
        if annotations.get(key):
            return annotations[key][:300]
    name = labels.get("alertname", "alert")
    where = labels.get("service") or labels.get("instance") or labels.get("job") or ""
    return f"{name} {where}".strip()[:300]


def to_record(alert: NormalizedAlert) -> dict[str, Any]:
    """The alert as JSON-ready data (times in ISO 8601), for the intake."""
    record = {name: getattr(alert, name) for name in _FIELDS}
    record["starts_at"] = alert.starts_at.isoformat() if alert.starts_at else None
    record["ends_at"] = alert.ends_at.isoformat() if alert.ends_at else None
    return record


def from_record(record: dict[str, Any]) -> NormalizedAlert:
    """The alert :func:`to_record` wrote."""
    starts, ends = record.get("starts_at"), record.get("ends_at")
    return NormalizedAlert(
        **{
            **{name: record[name] for name in _FIELDS if name in record},
            "starts_at": datetime.fromisoformat(starts) if starts else None,
            "ends_at": datetime.fromisoformat(ends) if ends else None,
        }
    )


_FIELDS = tuple(f.name for f in fields(NormalizedAlert))
