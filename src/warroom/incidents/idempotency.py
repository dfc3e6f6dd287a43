"""Declarations keyed by a client's ``Idempotency-Key``: a repeat returns the first."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy.orm import Session

from warroom.errors import Conflict
from warroom.incidents.models import IdempotencyKey
from warroom.incidents.schemas import IncidentCreate


def request_hash(data: IncidentCreate) -> str:
    return hashlib.sha256(json.dumps(data.model_dump(), sort_keys=True).encode()).hexdigest()


def earlier_incident(*, session: Session, key: str, data: IncidentCreate) -> int | None:
    """The incident declared before with this key, or None; a different body conflicts."""
    row = session.get(IdempotencyKey, key)
    if row is None:
        return None
    if row.request_hash != request_hash(data):
        raise Conflict(
            "Idempotency-Key was used before with a different request",
            details={"field": "Idempotency-Key"},
        )
    return row.incident_id


def remember(
    *, session: Session, key: str, data: IncidentCreate, incident_id: int, now: datetime
) -> None:
    """Keep the key; a concurrent duplicate fails on the primary key at commit."""
    session.add(
        IdempotencyKey(
            key=key, request_hash=request_hash(data), incident_id=incident_id, created_at=now
        )
    )
    session.flush()
