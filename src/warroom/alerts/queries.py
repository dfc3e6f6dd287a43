"""Reading alerts back."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from warroom.alerts import integrations
from warroom.alerts.models import Alert
from warroom.alerts.schemas import AlertFilter


def latest_alerts(*, session: Session, limit: int) -> Sequence[Alert]:
    """The newest alerts, without counting them all."""
    return session.scalars(select(Alert).order_by(Alert.id.desc()).limit(limit)).all()


def list_alerts(*, session: Session, filters: AlertFilter) -> tuple[Sequence[Alert], int]:
    """One page of alerts, newest first, and how many match in all."""
    query = select(Alert)
    if filters.status:
        query = query.where(Alert.status == filters.status)
    if filters.incident_id:
        query = query.where(Alert.incident_id == filters.incident_id)
    if filters.silenced is not None:
        silenced = Alert.silenced_by.is_not(None)
        query = query.where(silenced if filters.silenced else ~silenced)
    if filters.q:
        needle = filters.q.lower()
        query = query.where(
            or_(
                func.lower(Alert.summary).contains(needle, autoescape=True),
                func.lower(Alert.fingerprint).contains(needle, autoescape=True),
            )
        )
    if filters.integration:
        integration = integrations.find(session=session, ref=filters.integration)
        query = query.where(Alert.integration_id == integration.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Alert.id.desc()).limit(filters.limit).offset(filters.offset)
    ).all()
    return rows, total
