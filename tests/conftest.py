"""Shared fixtures: a database per backend (SQLite and PostgreSQL), a runtime with a fake
clock, an in-process API client with tokens of each role, and the CLI."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.receivers import receiver  # noqa: F401  (a fixture for every test module)
from tests.slack_fake import fake_slack  # noqa: F401  (a fixture for every test module)
from warroom import migrate
from warroom.auth import service as auth
from warroom.cli import context as cli_context
from warroom.cli import run as cli_run
from warroom.clock import FakeClock
from warroom.db import create_db_engine
from warroom.runtime import Runtime, build_runtime
from warroom.settings import Settings
from warroom.tables import Base
from warroom.web.app import create_app

BACKENDS = ["sqlite", "postgresql"]
PG_URL = os.environ.get(
    "WARROOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test process, dropped at the end."""
    admin_engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"warroom_test_{uuid.uuid4().hex[:12]}"
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin_engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "warroom.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    _truncate(url)
    yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data", worker=False)


@pytest.fixture
def runtime(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.engine.dispose()


@dataclass
class Api:
    """An in-process client and a bearer header per role."""

    client: TestClient
    admin: dict[str, str]
    commander: dict[str, str]
    security: dict[str, str]
    responder: dict[str, str]
    viewer: dict[str, str]

    def settle(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until every hook request answered so far is ingested (hooks answer once the
        alerts are committed, and ingest them right after); the intake's state."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.client.get("/api/v1/alerts/intake", headers=self.viewer)
            assert response.status_code == 200, response.text
            state: dict[str, Any] = response.json()
            if state["pending"] == 0:
                return state
            assert time.monotonic() < deadline, f"alerts still not ingested: {state}"
            time.sleep(0.005)


@pytest.fixture
def api(runtime: Runtime) -> Iterator[Api]:
    headers = {}
    with runtime.transaction() as session:
        for role in auth.ROLES:
            _, secret = auth.create_token(
                session=session, name=f"{role}-token", role=role, now=runtime.clock.now()
            )
            headers[role] = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(runtime, run_worker=False)) as client:
        yield Api(client=client, **headers)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


class Cli:
    """Runs ``warroom`` in-process against the test database."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> CliResult:
        self.capsys.readouterr()
        code = cli_run(list(args))
        captured = self.capsys.readouterr()
        return CliResult(code=code, out=captured.out, err=captured.err)


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    monkeypatch.setenv("WARROOM_DATABASE_URL", settings.resolved_database_url())
    monkeypatch.setenv("WARROOM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("WARROOM_ACTOR", "cli:tester")
    monkeypatch.setenv("COLUMNS", "200")
    cli_context.runtime.cache_clear()
    yield Cli(capsys)
    if cli_context.runtime.cache_info().currsize:
        cli_context.runtime().engine.dispose()
    cli_context.runtime.cache_clear()
