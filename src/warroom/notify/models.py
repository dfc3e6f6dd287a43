"""The outbox: one row per message to deliver."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db import Base, UTCDateTime

QUEUED, SENT, FAILED, CANCELLED = "queued", "sent", "failed", "cancelled"
HELD = "held"  # over the person's page limit: summed up in a digest instead
MESSAGE, PAGE, SUMMONS = "message", "page", "summons"  # summons: a role page


class Delivery(Base):
    """A message for one recipient over one channel."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20), default=MESSAGE, server_default=MESSAGE)
    person_id: Mapped[int | None] = mapped_column(index=True)  # whom a page is for
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # the webhook-id every try sends (receivers drop repeats by it); None: from the id
    key: Mapped[str | None] = mapped_column(String(100))
