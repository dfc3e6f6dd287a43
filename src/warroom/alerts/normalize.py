"""The one alert model every source is turned into."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
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
