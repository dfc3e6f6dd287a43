"""alert intake journal: on SQLite, the last journal entry moved into the intake table

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_intake_journal",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("moved_through", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_intake_journal")),
    )


def downgrade() -> None:
    op.drop_table("alert_intake_journal")
