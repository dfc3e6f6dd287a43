"""Alembic environment: the engine comes from warroom (``config.attributes``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from warroom.tables import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through `warroom db upgrade`")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
