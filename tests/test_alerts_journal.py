"""On SQLite the event loop commits hook requests to the intake's journal (a file of its own
beside the database); the intake thread moves them into the intake table exactly once and
ingests them from there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api, Cli
from tests.test_alerts_hooks import alerts, am_alert, am_payload, create_integration, incidents
from warroom.alerts import backlog, integrations, journal
from warroom.alerts.backlog import Submission, Webhook
from warroom.alerts.ingester import Ingester
from warroom.alerts.normalize import NormalizedAlert
from warroom.auth import service as auth
from warroom.runtime import Runtime
from warroom.web.app import create_app

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _path(runtime: Runtime) -> Path:
    path = journal.path_for(runtime.settings.resolved_database_url())
    assert path is not None
    assert journal.database_of(path).exists()
    return path


def _prepare(runtime: Runtime) -> tuple[str, str]:
    """An Alertmanager integration's key and a viewer token."""
    with runtime.transaction() as session:
        prom = integrations.create(
            session=session, name="p", kind="alertmanager", auth_token=None, now=runtime.clock.now()
        )
        _, token = auth.create_token(
            session=session, name="viewer", role="viewer", now=runtime.clock.now()
        )
    return prom.key, token


def _normalized(key: str, fingerprint: str) -> Submission:
    alert = NormalizedAlert(
        fingerprint=fingerprint,
        status="firing",
        summary=f"{fingerprint} is down",
        source="alertmanager",
        labels={"alertname": "Down", "service": fingerprint, "severity": "critical"},
    )
    return Submission(key=key, kind="alertmanager", token=None, alerts=[alert])


def _webhook(key: str, *instances: str) -> Submission:
    """A request as the Alertmanager hook hands it to the journal: the body as it came."""
    body = am_payload(
        *(am_alert({"alertname": "Load", "service": "api", "instance": i}) for i in instances)
    )
    webhook = Webhook(body=json.dumps(body).encode(), alerts=len(instances))
    return Submission(key=key, kind="alertmanager", token=None, webhook=webhook)


def _fingerprints(runtime: Runtime) -> list[str]:
    from sqlalchemy import select

    from warroom.alerts.models import Alert

    with runtime.read() as session:
        return sorted(session.scalars(select(Alert.fingerprint)))


def _ingest_all(runtime: Runtime) -> None:
    ingester = Ingester(runtime)
    while ingester.ingest_next():
        pass


@SQLITE_ONLY
def test_requests_in_the_journal_are_counted_then_ingested_at_the_next_start(
    runtime: Runtime, cli: Cli
) -> None:
    """What the event loop committed (its 2xx sent) but no thread moved yet, as after a
    crash: `warroom alert intake` counts it as pending, and the next start ingests it."""
    key, token = _prepare(runtime)
    appender = journal.Appender(_path(runtime))
    outcomes = appender.append(
        [_normalized(key, "db"), _webhook(key, "i1", "i2"), _normalized("no-such-key", "x")],
        runtime.clock.now(),
    )
    appender.close()
    assert [type(o).__name__ for o in outcomes] == ["Stored", "Stored", "NotFound"]
    assert [o.alerts for o in outcomes if isinstance(o, backlog.Stored)] == [1, 2]
    shown = cli("alert", "intake", "--json")
    assert shown.code == 0, shown.err
    state = json.loads(shown.out)
    assert (state["pending"], state["pending_alerts"], state["failed"]) == (2, 3, 0)
    assert state["oldest"] is not None

    with TestClient(create_app(runtime, run_worker=False)) as client:
        api = Api(client=client, admin={}, commander={}, security={}, responder={}, viewer={})
        api.viewer = {"Authorization": f"Bearer {token}"}
        assert api.settle()["pending"] == 0
        stored = alerts(api)
        assert len(stored) == 3
        assert {a["labels"].get("instance") for a in stored} == {None, "i1", "i2"}
        assert len(incidents(api)) == 2  # the db alert's and the api alerts' groups


@SQLITE_ONLY
def test_each_journal_entry_is_moved_once_whoever_moves_it(runtime: Runtime) -> None:
    """Two movers (as in two processes on one database) and a move repeated after a crash
    before the journal was trimmed: each entry reaches the intake table once."""
    key, _ = _prepare(runtime)
    path = _path(runtime)
    appender = journal.Appender(path)
    appender.append([_normalized(key, "a"), _normalized(key, "b")], runtime.clock.now())
    first, second = journal.Mover(path), journal.Mover(path)
    with runtime.transaction() as session:
        assert first.move(session=session, max_alerts=1) == 1  # the oldest, alone
    with runtime.transaction() as session:
        assert second.move(session=session, max_alerts=100) == 1  # only what is after the mark
    with runtime.transaction() as session:
        assert first.move(session=session, max_alerts=100) == 0
        assert second.move(session=session, max_alerts=100) == 0
    with runtime.read() as session:
        assert backlog.state(session=session).pending == 2
    _ingest_all(runtime)
    assert _fingerprints(runtime) == ["a", "b"]
    appender.append([_normalized(key, "c")], runtime.clock.now())  # and trims what moved
    appender.close()
    _ingest_all(runtime)
    assert _fingerprints(runtime) == ["a", "b", "c"]
    with runtime.read() as session:
        state = journal.state(session=session, url=runtime.settings.resolved_database_url())
    assert state.pending == 0


@SQLITE_ONLY
def test_a_new_journal_file_numbers_its_entries_after_the_mark(runtime: Runtime) -> None:
    """Entries are moved only after the mark of the last one moved: a journal file lost or
    replaced must not start its numbers again below it (they would never be moved)."""
    key, _ = _prepare(runtime)
    path = _path(runtime)
    appender = journal.Appender(path)
    for name in ("a", "b", "c"):
        appender.append([_normalized(key, name)], runtime.clock.now())
    appender.close()
    _ingest_all(runtime)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    appender = journal.Appender(path)
    appender.append([_normalized(key, "d")], runtime.clock.now())
    appender.close()
    _ingest_all(runtime)
    assert _fingerprints(runtime) == ["a", "b", "c", "d"]


@SQLITE_ONLY
def test_an_entry_of_an_integration_deleted_meanwhile_is_dropped(runtime: Runtime) -> None:
    from sqlalchemy import delete

    from warroom.alerts.models import Integration

    key, _ = _prepare(runtime)
    appender = journal.Appender(_path(runtime))
    appender.append([_normalized(key, "gone")], runtime.clock.now())
    appender.close()
    with runtime.transaction() as session:
        session.execute(delete(Integration).where(Integration.key == key))
    _ingest_all(runtime)
    assert _fingerprints(runtime) == []
    with runtime.read() as session:
        state = journal.state(session=session, url=runtime.settings.resolved_database_url())
    assert (state.pending, state.failed) == (0, 0)


@SQLITE_ONLY
def test_the_event_loop_never_checkpoints_the_journal_and_the_intake_thread_does(
    runtime: Runtime,
) -> None:
    """A checkpoint waits for the disk, so the appender (the event loop) leaves them to the
    mover (the intake thread): its write-ahead log grows past SQLite's own checkpoint size
    (1,000 pages) until the mover checkpoints, and then starts over."""
    import sqlite3

    key, _ = _prepare(runtime)
    path = _path(runtime)
    appender = journal.Appender(path)
    instances = [f"instance-{n:04d}" for n in range(20)]
    for _ in range(800):
        appender.append([_webhook(key, *instances)], runtime.clock.now())
    wal = Path(f"{path}-wal")
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    # SQLite's own checkpoints would have started the log over at 1,000 pages
    assert wal.stat().st_size > 2000 * page

    def frames_in_log() -> int:
        looker = sqlite3.connect(path)
        try:
            return int(looker.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        finally:
            looker.close()

    journal.Mover(path).checkpoint()
    appender.append([_webhook(key, "after")], runtime.clock.now())
    assert frames_in_log() < 10  # the log started over after the intake thread's checkpoint
    appender.close()


def test_a_request_that_waits_comes_after_those_accepted_before_it(api: Api) -> None:
    """A request that waits for its ingest is stored by the intake thread, not the journal;
    it still comes after the requests answered before it: resolving an alert that fired in
    an earlier request resolves it."""
    key = create_integration(api, "prom", "alertmanager")["key"]
    labels = {"alertname": "Load", "service": "api", "instance": "i1"}
    fired = api.client.post(f"/hooks/alertmanager/{key}", json=am_payload(am_alert(labels)))
    assert fired.status_code == 202, fired.text
    resolved = api.client.post(
        f"/hooks/alertmanager/{key}?wait=true",
        json=am_payload(am_alert(labels, status="resolved")),
    )
    assert resolved.status_code == 202, resolved.text
    body: dict[str, Any] = resolved.json()
    assert (body["ingested"], body["resolved"], body["created"]) == (True, 1, 0)
    [alert] = alerts(api)
    assert alert["status"] == "resolved"


def test_the_journal_is_sqlites() -> None:
    """PostgreSQL commits hook requests straight to its intake table (one writer per
    database is SQLite's limit, not PostgreSQL's); an in-memory SQLite has no file."""
    assert journal.path_for("postgresql+psycopg://postgres@127.0.0.1/test") is None
    assert journal.path_for("sqlite://") is None
    assert journal.path_for("sqlite:////var/lib/warroom/warroom.db") == Path(
        "/var/lib/warroom/warroom.db-intake"
    )
