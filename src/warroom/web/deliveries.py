"""The outbox, read: GET /api/v1/deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.db import MAX_ID
from warroom.inputs import Input
from warroom.notify.models import Delivery
from warroom.web.deps import RuntimeDep, Viewer

router = APIRouter(prefix="/api/v1", tags=["deliveries"])


class DeliveryFilter(Input):
    incident_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    status: Literal["queued", "sent", "failed", "cancelled"] | None = None
    channel: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_ID)


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int | None
    channel: str
    kind: str
    recipient: str
    subject: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int


def find_deliveries(*, session: Session, filters: DeliveryFilter) -> tuple[list[DeliveryRead], int]:
    """One page of deliveries, newest first, and how many match in all."""
    query = select(Delivery)
    if filters.incident_id is not None:
        query = query.where(Delivery.incident_id == filters.incident_id)
    if filters.status is not None:
        query = query.where(Delivery.status == filters.status)
    if filters.channel is not None:
        query = query.where(Delivery.channel == filters.channel)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Delivery.id.desc()).limit(filters.limit).offset(filters.offset)
    ).all()
    return [DeliveryRead.model_validate(r) for r in rows], total


@router.get("/deliveries", response_model=DeliveryPage)
def list_deliveries(
    caller: Viewer, runtime: RuntimeDep, filters: Annotated[DeliveryFilter, Query()]
) -> DeliveryPage:
    """Messages warroom sent or is sending, newest first: status, tries and the last error."""
    with runtime.read() as session:
        items, total = find_deliveries(session=session, filters=filters)
    return DeliveryPage(items=items, total=total, limit=filters.limit, offset=filters.offset)
