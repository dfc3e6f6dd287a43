"""The schema's revision as warroom tells it without Alembic, against Alembic's own."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from warroom import migrate
from warroom.runtime import Runtime


def test_the_head_warroom_names_is_alembics_head() -> None:
    engine = create_engine("sqlite://")
    scripts = ScriptDirectory.from_config(migrate.alembic_config(engine))
    assert scripts.get_current_head() == migrate.HEAD


def test_a_migrated_database_is_current_and_an_empty_one_is_not(runtime: Runtime) -> None:
    assert migrate.is_current(runtime.engine)
    assert not migrate.is_current(create_engine("sqlite://"))
