"""On SQLite the event loop commits hook requests to the intake's journal (a file of its own
beside the database); the intake thread moves them into the intake table exactly once and
ingests them from there."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import Api, Cli
from tests.test_alerts_hooks import alerts, am_alert, am_payload, create_integration, incidents
from warroom.alerts import backlog, intake, integrations, journal
from warroom.alerts.backlog import Submission, Webhook
from warroom.alerts.ingester import Ingester
from warroom.alerts.normalize import NormalizedAlert
from warroom.auth import service as auth
from warroom.clock import FakeClock
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


def _looked_up(path: Path, sql: str, column: int = 0) -> int:
    """A number a statement gives, read through a connection of its own."""
    looker = sqlite3.connect(path)
    try:
        return int(looker.execute(sql).fetchone()[column])
    finally:
        looker.close()


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
def test_entries_moved_out_are_deleted_a_few_with_each_append(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries moved into the database leave the journal a few at each later append (a
    delete of all of them at once held the event loop up), and all of them do in the end."""
    monkeypatch.setattr(journal, "MARK_EVERY_SECONDS", 0.0)  # the appender reads the mark
    key, _ = _prepare(runtime)
    path = _path(runtime)
    appender = journal.Appender(path)
    for n in range(200):
        appender.append([_normalized(key, f"moved-{n}")], runtime.clock.now())
    with runtime.transaction() as session:
        assert journal.Mover(path).move(session=session, max_alerts=1000) == 200

    appender.append([_normalized(key, "next")], runtime.clock.now())
    assert _looked_up(path, "SELECT count(*) FROM entries") == 201 - journal.TRIM_PER_ENTRY
    appender.append([_normalized(key, f"more-{n}") for n in range(10)], runtime.clock.now())
    assert _looked_up(path, "SELECT count(*) FROM entries") == 211 - 11 * journal.TRIM_PER_ENTRY
    for n in range(60):
        appender.append([_normalized(key, f"later-{n}")], runtime.clock.now())
    assert _looked_up(path, "SELECT count(*) FROM entries") == 71  # the 200 moved are gone
    appender.close()
    _ingest_all(runtime)
    assert len(_fingerprints(runtime)) == 271


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

    journal.Mover(path).checkpoint()
    appender.append([_webhook(key, "after")], runtime.clock.now())
    # the log started over after the intake thread's checkpoint
    assert _looked_up(path, "PRAGMA wal_checkpoint(PASSIVE)", 1) < 10
    appender.close()


@SQLITE_ONLY
def test_the_journal_log_starts_over_at_each_checkpoint_while_requests_keep_coming(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a steady stream of requests a commit comes while the checkpoint waits for the
    disk. The log must still start over after each checkpoint instead of growing without end:
    3,000 commits of a page or more each would leave more than 12 MB in it."""
    monkeypatch.setattr(journal, "CHECKPOINT_EVERY_SECONDS", 0.005)
    key, _ = _prepare(runtime)
    path = _path(runtime)
    appender, mover = journal.Appender(path), journal.Mover(path)
    streaming = threading.Event()
    streaming.set()

    def checkpoint_meanwhile() -> None:
        while streaming.is_set():
            mover.checkpoint()
            time.sleep(0.001)

    checkpointer = threading.Thread(target=checkpoint_meanwhile)
    checkpointer.start()
    try:
        for n in range(3000):
            appender.append([_webhook(key, f"instance-{n:04d}")], runtime.clock.now())
    finally:
        streaming.clear()
        checkpointer.join()
    appender.close()
    assert Path(f"{path}-wal").stat().st_size < 8 * 1024 * 1024  # ~1 MB here; 28 MB before


@SQLITE_ONLY
def test_a_request_is_not_held_up_while_the_checkpoint_copies_the_log(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint that copies the bulk of the log waits for the disk: a request that comes
    meanwhile is stored at once. Only the last, short one keeps the appenders waiting (so
    that the next commit starts the log over)."""
    key, _ = _prepare(runtime)
    path = _path(runtime)
    appender = journal.Appender(path)
    for n in range(200):
        appender.append([_webhook(key, f"before-{n:03d}")], runtime.clock.now())
    stored_meanwhile: list[bool] = []
    requests: list[threading.Thread] = []
    real_open = journal.open_journal

    def append_during_the_first_checkpoint(sql: str) -> None:
        if "wal_checkpoint" not in sql or requests:
            return
        request = threading.Thread(
            target=appender.append, args=([_webhook(key, "meanwhile")], runtime.clock.now())
        )
        requests.append(request)
        request.start()
        request.join(timeout=10)  # held up by the checkpoint's lock, it could not end here
        stored_meanwhile.append(not request.is_alive())

    def traced(journal_path: Path) -> sqlite3.Connection:
        connection = real_open(journal_path)
        connection.set_trace_callback(append_during_the_first_checkpoint)
        return connection

    monkeypatch.setattr(journal, "open_journal", traced)
    journal.Mover(path).checkpoint()
    requests[0].join()
    assert stored_meanwhile == [True]
    appender.append([_webhook(key, "after")], runtime.clock.now())
    # and the log still started over after the checkpoint
    assert _looked_up(path, "PRAGMA wal_checkpoint(PASSIVE)", 1) < 10
    appender.close()


def _state(runtime: Runtime) -> tuple[int, int, str | None]:
    """The journal's pending entries, alerts and oldest time, as `warroom alert intake` and
    the API report them."""
    with runtime.read() as session:
        state = journal.state(session=session, url=runtime.settings.resolved_database_url())
    oldest = state.oldest.isoformat() if state.oldest else None
    return state.pending, state.pending_alerts, oldest


def _counted(runtime: Runtime) -> tuple[int, int, str | None]:
    """The same, by reading every pending entry: the journal's after the mark, and those
    moved into the intake table but not ingested yet."""
    with runtime.read() as session:
        through = journal.moved_through(session)
        table = backlog.state(session=session)
    looker = sqlite3.connect(_path(runtime))
    try:
        count, alerts, oldest = looker.execute(
            "SELECT count(*), coalesce(sum(size), 0), min(received_at) FROM entries WHERE id > ?",
            (through,),
        ).fetchone()
    finally:
        looker.close()
    times = [t for t in (table.oldest.isoformat() if table.oldest else None, oldest) if t]
    return count + table.pending, alerts + table.pending_alerts, min(times) if times else None


def _entries(runtime: Runtime) -> list[tuple[int | None, int | None]]:
    """The running count of each entry the journal holds."""
    looker = sqlite3.connect(_path(runtime))
    try:
        rows = looker.execute("SELECT number, alerts_through FROM entries ORDER BY id")
        return [(number, alerts) for number, alerts in rows]
    finally:
        looker.close()


@SQLITE_ONLY
def test_the_journal_counts_what_is_pending_without_reading_every_entry(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pending entries and alerts come from the running count the appender keeps in each
    entry: through appends of every size, entries taken (as the intake thread ingests them)
    a few at a time, trims of what was taken, a journal emptied and filled again, and
    entries moved into the intake table, they match a count of every pending entry."""
    monkeypatch.setattr(journal, "MARK_EVERY_SECONDS", 0.0)  # each append trims what was taken
    key, _ = _prepare(runtime)
    path = _path(runtime)
    appender, mover = journal.Appender(path), journal.Mover(path)
    assert _state(runtime) == (0, 0, None)
    steps: list[tuple[str, int]] = [
        ("append", 1), ("append", 3), ("append", 2), ("take", 3), ("append", 1),
        ("take", 1), ("append", 4), ("take", 100), ("refused", 0), ("append", 2),
        ("append", 1), ("take", 2), ("move", 100),
    ]  # fmt: skip
    seen = []
    for number, (step, size) in enumerate(steps):
        if step == "append":  # a webhook of `size` alerts; the append also trims what moved
            instances = [f"i{number}-{n}" for n in range(size)]
            appender.append([_webhook(key, *instances)], runtime.clock.now())
        elif step == "refused":  # stores nothing, and trims: the journal is empty
            appender.append([_normalized("no-such-key", "x")], runtime.clock.now())
            assert _entries(runtime) == []
        elif step == "take":  # up to `size` alerts, as if ingested (at least one entry)
            with runtime.transaction() as session:
                mover.take(session=session, max_alerts=size)
        else:  # into the intake table: pending there until ingested
            with runtime.transaction() as session:
                mover.move(session=session, max_alerts=size)
        assert _state(runtime) == _counted(runtime), (step, size)
        seen.append(_state(runtime)[:2])
        if number == 9:  # the first entry after the journal was empty counts from 0 again
            assert _entries(runtime) == [(1, 2)]
    appender.close()
    assert seen == [
        (1, 1), (2, 4), (3, 6), (2, 5), (3, 6), (2, 3), (3, 7), (0, 0), (0, 0), (1, 2),
        (2, 3), (1, 1), (1, 1),
    ]  # fmt: skip
    _ingest_all(runtime)
    assert _state(runtime) == (0, 0, None)


def _store_as_before(runtime: Runtime, key: str, name: str, size: int) -> None:
    """An entry as an earlier warroom stored it: without a running count (the journal made
    by it if there is none yet, without the columns)."""
    with runtime.read() as session:
        [integration_id] = session.scalars(
            select(integrations.INTEGRATIONS.c.id).where(integrations.INTEGRATIONS.c.key == key)
        )
    webhook = _webhook(key, *[f"{name}-{i}" for i in range(size)]).webhook
    assert webhook is not None
    old = sqlite3.connect(_path(runtime))
    old.execute(
        "CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "integration_id INTEGER NOT NULL, received_at TEXT NOT NULL, size INTEGER NOT NULL, "
        "kind TEXT NOT NULL, alerts TEXT, webhook BLOB, acknowledge TEXT)"
    )
    old.execute(
        "INSERT INTO entries (integration_id, received_at, size, kind, webhook) "
        "VALUES (?, ?, ?, 'alertmanager', ?)",
        (integration_id, runtime.clock.now().isoformat(), size, webhook.body),
    )
    old.commit()
    old.close()


@SQLITE_ONLY
def test_entries_stored_before_the_running_count_are_counted_by_reading(
    runtime: Runtime,
) -> None:
    """A journal file written by an earlier warroom has no running count. Looking at it
    changes nothing and counts its entries by reading them; opening it to append adds the
    columns. Its entries are counted by reading while any is pending, one that an earlier
    version beside this one stores later is counted in by the next append, and the
    entries stored since are counted on their own once the old ones are gone."""
    key, _ = _prepare(runtime)
    path = _path(runtime)
    _store_as_before(runtime, key, "old1", 2)
    _store_as_before(runtime, key, "old2", 1)
    assert _state(runtime) == _counted(runtime)
    assert _state(runtime)[:2] == (2, 3)
    looker = sqlite3.connect(path)
    columns = {row[1] for row in looker.execute("PRAGMA table_info(entries)")}
    looker.close()
    assert "number" not in columns  # looking wrote nothing
    appender, mover = journal.Appender(path), journal.Mover(path)
    appender.append([_webhook(key, "new-a", "new-b", "new-c")], runtime.clock.now())
    assert _state(runtime)[:2] == (3, 6) == _counted(runtime)[:2]
    _store_as_before(runtime, key, "late", 2)  # an earlier version, beside this one
    assert _state(runtime)[:2] == (4, 8) == _counted(runtime)[:2]
    appender.append([_webhook(key, "new-d")], runtime.clock.now())
    assert _state(runtime)[:2] == (5, 9) == _counted(runtime)[:2]
    with runtime.transaction() as session:  # the first old entry, as the intake thread takes it
        assert len(mover.take(session=session, max_alerts=2)) == 1
    assert _state(runtime)[:2] == (4, 7) == _counted(runtime)[:2]
    with runtime.transaction() as session:  # the second: the first pending entry is counted
        assert len(mover.take(session=session, max_alerts=1)) == 1
    assert _state(runtime) == _counted(runtime)
    assert _state(runtime)[:2] == (3, 6)  # new-a..c, the late entry, new-d
    appender.close()
    _ingest_all(runtime)
    assert len(_fingerprints(runtime)) == 6  # all but the two old entries taken above


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


def _fire(api: Api, key: str, *instances: str) -> None:
    body = am_payload(
        *(am_alert({"alertname": "Load", "service": "api", "instance": i}) for i in instances)
    )
    answer = api.client.post(f"/hooks/alertmanager/{key}", json=body)
    assert answer.status_code == 202, answer.text


@SQLITE_ONLY
def test_a_trickle_of_lone_requests_is_ingested_several_to_a_transaction(
    api: Api, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a chunk of few alerts from the journal, the next starts TRICKLE_SECONDS later
    and takes what came meanwhile: alerts ingested together were first seen at the one
    clock reading of their transaction."""
    monkeypatch.setattr(intake, "TRICKLE_SECONDS", 3.0)
    key = create_integration(api, "prom", "alertmanager")["key"]
    _fire(api, key, "first")
    api.settle()
    for n in range(5):
        clock.advance(timedelta(seconds=1))
        _fire(api, key, f"next-{n}")
    api.settle()
    seen = {a["labels"]["instance"]: a["first_seen_at"] for a in alerts(api)}
    assert len({seen[f"next-{n}"] for n in range(5)}) == 1
    assert seen["first"] != seen["next-0"]


@SQLITE_ONLY
def test_a_chunk_of_many_alerts_is_followed_at_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backlog is ingested without pauses: after a chunk of TRICKLE_ALERTS or more, the
    next request is ingested at once, not TRICKLE_SECONDS later."""
    monkeypatch.setattr(intake, "TRICKLE_SECONDS", 120.0)
    key = create_integration(api, "prom", "alertmanager")["key"]
    _fire(api, key, *(f"many-{n}" for n in range(intake.TRICKLE_ALERTS)))
    api.settle()
    _fire(api, key, "after")
    api.settle(timeout=60.0)  # well before the pause a small chunk would have been followed by
    assert len(alerts(api)) == intake.TRICKLE_ALERTS + 1


def test_the_journal_is_sqlites() -> None:
    """PostgreSQL commits hook requests straight to its intake table (one writer per
    database is SQLite's limit, not PostgreSQL's); an in-memory SQLite has no file."""
    assert journal.path_for("postgresql+psycopg://postgres@127.0.0.1/test") is None
    assert journal.path_for("sqlite://") is None
    assert journal.path_for("sqlite:////var/lib/warroom/warroom.db") == Path(
        "/var/lib/warroom/warroom.db-intake"
    )
