"""Run Alembic migrations from the installed package.

Alembic is imported only to migrate: a server whose database is up to date (the usual
start) does not hold its modules (about 9 MB; docs/performance.md)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from warroom.db import READ_ONLY

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0013"  # the newest revision (a test checks that it is Alembic's head)
VERSION = text("SELECT version_num FROM alembic_version")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at warroom's migrations and the given engine."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("warroom") / "migrations"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database schema to the newest revision."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        return bool(connection.scalar(VERSION) == HEAD)
