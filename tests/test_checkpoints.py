"""While the app runs on SQLite, a thread of its own checkpoints the write-ahead logs: a
commit never waits for the disk to take a checkpoint."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from warroom.alerts import journal
from warroom.checkpoints import Checkpointer
from warroom.runtime import Runtime
from warroom.web.app import create_app

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PAGE = 4096  # SQLite's default page size
FILLER = 100 * 1024  # bytes a commit writes: 25 pages


def _database(runtime: Runtime) -> Path:
    path = journal.path_for(runtime.settings.resolved_database_url())
    assert path is not None
    return journal.database_of(path)


def _fill(runtime: Runtime, commits: int) -> None:
    """``commits`` commits of FILLER bytes each, through the runtime's own connections."""
    with runtime.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS filler (b BLOB)"))
    for _ in range(commits):
        with runtime.transaction() as session:
            session.execute(text("INSERT INTO filler (b) VALUES (randomblob(:n))"), {"n": FILLER})


def _autocheckpoint(runtime: Runtime) -> int:
    with runtime.transaction() as session:
        return int(session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _frames_in_log(path: Path) -> int:
    """How many frames the write-ahead log holds (looking checkpoints it, too)."""
    import sqlite3

    looker = sqlite3.connect(path)
    try:
        return int(looker.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        looker.close()


@contextmanager
def _running(runtime: Runtime, every_seconds: float) -> Iterator[Checkpointer]:
    """The runtime's checkpointer, started, checkpointing every ``every_seconds``."""
    checkpointer = runtime.checkpointer
    assert checkpointer is not None
    checkpointer.every_seconds = every_seconds
    checkpointer.start()
    try:
        yield checkpointer
    finally:
        checkpointer.stop()


@SQLITE_ONLY
def test_while_it_runs_commits_leave_checkpoints_to_it(runtime: Runtime) -> None:
    assert _autocheckpoint(runtime) == 1000  # SQLite's own, before it runs
    with _running(runtime, 3600.0) as checkpointer:  # only the checkpoints asked for here
        assert _autocheckpoint(runtime) == 0
        _fill(runtime, 80)  # 2,000 pages: SQLite's own checkpoints start over at 1,000
        path = _database(runtime)
        assert Path(f"{path}-wal").stat().st_size > 1900 * PAGE
        logged, copied = checkpointer.checkpoint()[path]
        assert logged > 1900
        assert copied == logged
        _fill(runtime, 1)
        assert _frames_in_log(path) < 40  # the log started over after the checkpoint
    assert not checkpointer.running
    assert _autocheckpoint(runtime) == 1000  # stopped: SQLite's own again


@SQLITE_ONLY
def test_its_thread_copies_the_log_into_the_database(runtime: Runtime) -> None:
    path = _database(runtime)
    before = path.stat().st_size
    with _running(runtime, 0.05):
        _fill(runtime, 80)
        deadline = time.monotonic() + 30
        while path.stat().st_size < before + 1900 * PAGE:  # the pages reached the file
            assert time.monotonic() < deadline, "no checkpoint was taken"
            time.sleep(0.02)


@SQLITE_ONLY
def test_the_app_starts_and_stops_it(runtime: Runtime) -> None:
    checkpointer = runtime.checkpointer
    assert checkpointer is not None
    with TestClient(create_app(runtime, run_worker=False)) as client:
        assert client.get("/healthz").status_code == 200
        assert checkpointer.running
        assert "warroom-checkpoint" in {t.name for t in threading.enumerate()}
        assert _autocheckpoint(runtime) == 0
    assert not checkpointer.running
    assert "warroom-checkpoint" not in {t.name for t in threading.enumerate()}
    assert _autocheckpoint(runtime) == 1000


def test_only_sqlite_files_have_one(runtime: Runtime, database_url: str) -> None:
    """The database only: the intake journal is checkpointed by the intake thread."""
    if database_url.startswith("sqlite"):
        assert runtime.checkpointer is not None
        assert runtime.checkpointer.files == [_database(runtime)]
    else:
        assert runtime.checkpointer is None


def test_a_failing_checkpoint_is_logged_once_and_the_thread_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 1000)
    checkpointer = Checkpointer([broken], every_seconds=0.01)
    with caplog.at_level(logging.ERROR, logger="warroom.db"):
        checkpointer.start()
        try:
            deadline = time.monotonic() + 30
            while "checkpointing the database failed" not in caplog.text:
                assert time.monotonic() < deadline, "the failure was not logged"
                time.sleep(0.01)
            time.sleep(0.2)  # about twenty more tries
            assert checkpointer.running
        finally:
            checkpointer.stop()
    assert caplog.text.count("checkpointing the database failed") == 1


def test_a_file_not_there_is_not_made(tmp_path: Path) -> None:
    missing = tmp_path / "never.db"
    assert Checkpointer([missing]).checkpoint() == {}
    assert not missing.exists()
