"""drop ix_alerts_status_last_seen_at

SQLite, without statistics, preferred this index to the partial unique index on
(integration_id, fingerprint) for the dedup lookup of a batch, scanning every firing alert.
No query needs it: the alert list walks ids newest first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_status_last_seen_at")


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_status_last_seen_at", ["status", "last_seen_at"], unique=False
        )
