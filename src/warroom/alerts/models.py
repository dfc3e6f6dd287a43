"""Integrations, alerts and silences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db import Base, JSONType, UTCDateTime


class Integration(Base):
    """A source of alerts; its secret key is part of its URL."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    auth_token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(Base):
    """One alert; while firing, its fingerprint is unique within its integration."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_firing_fingerprint",
            "integration_id",
            "fingerprint",
            unique=True,
            postgresql_where=text("status = 'firing'"),
            sqlite_where=text("status = 'firing'"),
        ),
        Index("ix_alerts_group_key_id", "group_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(String(300))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    severity_hint: Mapped[str | None] = mapped_column(String(20))
    generator_url: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(default=1)
    route: Mapped[str] = mapped_column(String(100))
    group_key: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str | None] = mapped_column(String(20))
    silenced_by: Mapped[int | None] = mapped_column(ForeignKey("silences.id", ondelete="SET NULL"))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )


class Silence(Base):
    """A maintenance window: matching alerts are recorded but open no incident."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    matchers: Mapped[list[str]] = mapped_column(JSONType)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IntakeEntry(Base):
    """One accepted hook request, committed before its 2xx answer and ingested (dedup,
    routing, incidents) after it, in order; ingesting deletes it in the same transaction
    (or, when a request waits for it, keeps its result until the request reads it). An
    entry whose ingest failed keeps its error and is skipped."""

    __tablename__ = "alert_intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    size: Mapped[int]
    alerts: Mapped[list[Any]] = mapped_column(JSONType)
    acknowledge: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    wait: Mapped[bool] = mapped_column(default=False)  # a request waits for the result
    # SQL NULL for None (JSON null would hide the row from every "not done" query)
    result: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    )


class IntakeJournalMark(Base):
    """On SQLite, the last journal entry moved into the intake table (one row): moving the
    next entries and raising the mark are one transaction, so each is moved exactly once
    (``warroom.alerts.journal``)."""

    __tablename__ = "alert_intake_journal"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    moved_through: Mapped[int]
