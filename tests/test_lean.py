"""Statements run straight on SQLite's driver (``warroom.lean``) store and read what
SQLAlchemy stores and reads, fail as SQLAlchemy fails, and leave to SQLAlchemy what they
cannot do; ``insert_ids`` counts ids on within a transaction without colliding with rows
inserted another way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import String, bindparam, cast, delete, literal_column, select
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

from warroom import lean
from warroom.db import UTCDateTime, add_written, insert_ids, inserts, table_of
from warroom.jobs.models import Job
from warroom.notify.models import Delivery
from warroom.runtime import Runtime

JOBS = table_of(Job)
DELIVERIES = table_of(Delivery)
BERLIN = timezone(timedelta(hours=2))


def job_rows(prefix: str, now: datetime) -> list[dict[str, Any]]:
    """Jobs with what the bind processors turn into text: times in another zone, JSON."""
    return [
        {
            "kind": "probe",
            "subject": f"s{n}",
            "key": f"{prefix}{n}",
            "due_at": (now + timedelta(seconds=n)).astimezone(BERLIN),
            "created_at": now,
            "payload": {"text": "Störung ✓", "wide": 2**70, "n": n, "nested": [{"a": 1.5}]},
            "status": "pending",
            "attempts": 0,
        }
        for n in range(3)
    ]


def stored_jobs(runtime: Runtime, prefix: str) -> list[tuple[Any, ...]]:
    """The jobs as read back, and their times and payload as the database holds them."""
    with runtime.read() as session:
        rows = session.execute(
            select(
                Job.subject,
                Job.due_at,
                Job.created_at,
                Job.payload,
                Job.status,
                Job.attempts,
                cast(Job.due_at, String).label("due_at_text"),
                cast(Job.created_at, String).label("created_at_text"),
                cast(Job.payload, String).label("payload_text"),
            )
            .where(Job.key.startswith(prefix))
            .order_by(Job.key)
        )
        return [tuple(row) for row in rows]


def test_rows_written_straight_read_back_as_sqlalchemy_writes_them(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.transaction() as session:
        lean.write(session, inserts(JOBS).plain, job_rows("lean-", now))
        session.connection().execute(inserts(JOBS).plain, job_rows("core-", now))
    straight, through_core = stored_jobs(runtime, "lean-"), stored_jobs(runtime, "core-")
    assert len(straight) == 3
    assert straight == through_core
    assert straight[1][1] == now + timedelta(seconds=1)
    assert straight[1][1].tzinfo is not None


def test_one_row_and_many_rows_both_go_in(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.transaction() as session:
        lean.write(session, inserts(JOBS).plain, job_rows("one-", now)[:1])
        lean.write(session, inserts(JOBS).plain, [])
    assert [row[0] for row in stored_jobs(runtime, "one-")] == ["s0"]


def test_a_violated_constraint_is_sqlalchemys_error_and_nothing_is_kept(runtime: Runtime) -> None:
    now = runtime.clock.now()
    rows = job_rows("twice-", now)

    def twice() -> None:
        with runtime.transaction() as session:
            lean.write(session, inserts(JOBS).plain, rows)
            lean.write(session, inserts(JOBS).plain, rows[1:2])  # the same key again

    with pytest.raises(IntegrityError):
        twice()
    assert stored_jobs(runtime, "twice-") == []


def test_a_statement_sqlalchemy_adds_defaults_to_goes_through_it(runtime: Runtime) -> None:
    """Delivery's kind, status and attempts have Python defaults: rows without them are
    left to SQLAlchemy, which fills them in."""
    row = {
        "incident_id": None,
        "channel": "ops",
        "person_id": None,
        "recipient": "ops@example.com",
        "subject": "s",
        "body": "b",
        "created_at": runtime.clock.now(),
        "sent_at": None,
        "last_error": None,
    }
    assert lean.compiled(inserts(DELIVERIES).plain, tuple(row), pysqlite.dialect()) is None
    with runtime.transaction() as session:
        lean.write(session, inserts(DELIVERIES).plain, [row])
    with runtime.read() as session:
        stored = session.scalars(select(Delivery)).one()
    assert (stored.kind, stored.status, stored.attempts) == ("message", "queued", 0)


def delivery(runtime: Runtime, n: int) -> dict[str, Any]:
    return {
        "incident_id": None,
        "kind": "message",
        "channel": "ops",
        "person_id": None,
        "recipient": "ops@example.com",
        "subject": f"d{n}",
        "body": "b",
        "status": "queued",
        "attempts": 0,
        "created_at": runtime.clock.now(),
        "sent_at": None,
        "last_error": None,
    }


def test_ids_counted_on_do_not_collide_with_rows_inserted_another_way(runtime: Runtime) -> None:
    """Between insert_ids calls in one transaction, a row written by add_written and one the
    ORM flushes take ids of their own choosing; the ids given after them are still free."""
    with runtime.transaction() as session:
        first = insert_ids(session, DELIVERIES, [delivery(runtime, 0), delivery(runtime, 1)])
        written = add_written(session, Delivery, delivery(runtime, 2))
        second = insert_ids(session, DELIVERIES, [delivery(runtime, 3)])
        flushed = Delivery(**delivery(runtime, 4))
        session.add(flushed)
        session.flush()
        third = insert_ids(session, DELIVERIES, [delivery(runtime, 5), delivery(runtime, 6)])
        given = [*first, written.id, *second, flushed.id, *third]
    assert len(set(given)) == 7
    with runtime.read() as session:
        stored = {
            row.id: row.subject for row in session.execute(select(Delivery.id, Delivery.subject))
        }
    assert stored == {i: f"d{n}" for n, i in enumerate(given)}


def test_ids_are_counted_again_in_the_next_transaction_of_a_session(runtime: Runtime) -> None:
    """A session's next transaction reads the largest id again: another session may have
    inserted rows meanwhile."""
    with runtime.factory() as session:
        with session.begin():
            first = insert_ids(session, DELIVERIES, [delivery(runtime, 0)])
        with runtime.transaction() as other:
            between = add_written(other, Delivery, delivery(runtime, 1))
        with session.begin():
            second = insert_ids(session, DELIVERIES, [delivery(runtime, 2)])
    assert len({first[0], between.id, second[0]}) == 3
    with runtime.read() as session:
        assert session.scalar(select(Delivery.subject).where(Delivery.id == second[0])) == "d2"


def test_ids_are_counted_again_after_a_savepoint_rolls_back(runtime: Runtime) -> None:
    """Rows deleted in a savepoint come back when it rolls back: ids counted in it may be
    theirs."""
    with runtime.transaction() as session:
        ids = insert_ids(session, DELIVERIES, [delivery(runtime, n) for n in range(3)])
    with runtime.transaction() as session:
        savepoint = session.begin_nested()
        session.execute(delete(Delivery).where(Delivery.id.in_(ids[1:])))
        insert_ids(session, DELIVERIES, [delivery(runtime, 3)])  # counted from ids[0]
        savepoint.rollback()  # ids[1] and ids[2] are back
        after = insert_ids(session, DELIVERIES, [delivery(runtime, 4)])
    assert after[0] not in ids
    with runtime.read() as session:
        subjects = session.scalars(select(Delivery.subject).order_by(Delivery.id)).all()
    assert subjects == ["d0", "d1", "d2", "d4"]


def test_the_time_text_kept_is_only_given_for_the_same_time() -> None:
    process = UTCDateTime().bind_processor(pysqlite.dialect())
    assert process is not None
    at = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    same_instant = at.astimezone(BERLIN)
    later = at + timedelta(microseconds=1)
    assert process(at) == "2026-12-07 06:00:00.000000"
    assert process(at) == "2026-12-07 06:00:00.000000"
    assert process(later) == "2026-12-07 06:00:00.000001"
    assert process(same_instant) == "2026-12-07 06:00:00.000000"
    assert process(later) == "2026-12-07 06:00:00.000001"
    assert process(None) is None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 12, 7))


READ_JOBS = (  # a datetime, JSON, a LIMIT of the statement's own
    select(Job.key, Job.due_at, Job.payload, Job.attempts)
    .where(Job.key.like(bindparam("pattern")))
    .order_by(Job.key)
    .limit(2)
)


def test_rows_read_straight_are_what_sqlalchemy_reads(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.transaction() as session:
        session.connection().execute(inserts(JOBS).plain, job_rows("read-", now))
    with runtime.read() as session:
        straight = lean.rows(session, READ_JOBS, {"pattern": "read-%"})
        through_core = [
            tuple(r) for r in session.connection().execute(READ_JOBS, {"pattern": "read-%"})
        ]
        first = lean.scalar(session, READ_JOBS, {"pattern": "read-%"})
        none = lean.scalar(session, READ_JOBS, {"pattern": "nothing-%"})
    assert [tuple(r) for r in straight] == through_core
    assert [r[0] for r in straight] == ["read-0", "read-1"]  # the LIMIT applied
    _, due_at, payload, attempts = straight[1]
    assert due_at == now + timedelta(seconds=1)
    assert due_at.tzinfo is not None
    assert attempts == 0
    assert payload == {"text": "Störung ✓", "wide": 2**70, "n": 1, "nested": [{"a": 1.5}]}
    assert (first, none) == ("read-0", None)


def test_a_select_goes_straight_on_sqlite_only_when_its_sql_is_fixed() -> None:
    dialect = pysqlite.dialect()
    assert lean.query(READ_JOBS, ("pattern",), dialect) is not None
    expanding = select(Job.key).where(Job.key.in_(bindparam("keys", expanding=True)))
    assert lean.query(expanding, ("keys",), dialect) is None
    assert lean.query(READ_JOBS, (), dialect) is None  # a value it needs is not given


def test_a_select_sqlalchemy_renders_at_execution_goes_through_it(runtime: Runtime) -> None:
    with runtime.transaction() as session:
        session.connection().execute(inserts(JOBS).plain, job_rows("list-", runtime.clock.now()))
    expanding = (
        select(Job.key).where(Job.key.in_(bindparam("keys", expanding=True))).order_by(Job.key)
    )
    with runtime.read() as session:
        found = lean.rows(session, expanding, {"keys": ["list-2", "list-0", "absent"]})
    assert [r[0] for r in found] == ["list-0", "list-2"]


def test_a_list_bound_as_one_json_parameter_selects_its_values(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("json_each is SQLite's")
    rows = job_rows("each-", runtime.clock.now())
    rows[1]["key"] = "each-'quoted\\\"-Störung"
    with runtime.transaction() as session:
        session.connection().execute(inserts(JOBS).plain, rows)
    listed = select(Job.key).where(Job.key.in_(lean.each("keys"))).order_by(Job.key)
    assert lean.query(listed, ("keys",), pysqlite.dialect()) is not None
    with runtime.read() as session:
        found = lean.rows(session, listed, {"keys": lean.listed([rows[1]["key"], "each-2", "x"])})
        empty = lean.rows(session, listed, {"keys": lean.listed([])})
    assert [r[0] for r in found] == sorted([rows[1]["key"], "each-2"])
    assert empty == []


def test_a_failing_select_is_sqlalchemys_error(runtime: Runtime) -> None:
    broken = select(Job.key).where(literal_column("no_such_column") == bindparam("value"))
    with runtime.read() as session, pytest.raises(DBAPIError):
        lean.rows(session, broken, {"value": 1})
