"""external contacts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 03:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import warroom.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", warroom.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", warroom.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("name", name=op.f("uq_contacts_name")),
    )


def downgrade() -> None:
    op.drop_table("contacts")
