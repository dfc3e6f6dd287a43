"""Engine and session factory, the declarative base, and the one UTC datetime column type.

SQLite runs in WAL mode and every transaction starts with ``BEGIN IMMEDIATE``: writers
queue on the database lock (``busy_timeout``) instead of failing with "database is locked"
when a read transaction later tries to write.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.sql import Insert, Select
from sqlalchemy.types import TypeDecorator

from warroom import lean, loopfirst

SQLITE_BUSY_TIMEOUT_MS = 60_000
MAX_ID = 2**31 - 1  # the widest integer id every backend stores


def parse_id(text: str) -> int | None:
    """The id a reference names when it is all ASCII digits and in range, else None."""
    if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID:
        return int(text)
    return None


def no_nul(value: object) -> object:
    """Refuse text holding NUL characters, which PostgreSQL cannot store."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The table of a mapped class, for Core statements."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


Row = TypeVar("Row", bound=Base)


@dataclass(frozen=True)
class Inserts:
    """A table's insert statements, built once: building a statement costs more than
    running it on SQLite, and the hot paths insert into a few tables many times."""

    plain: Insert
    returning_id: Insert
    returning_ids_in_order: Insert
    largest_id: Select[Any]


@cache
def inserts(table: Table) -> Inserts:
    return Inserts(
        plain=insert(table),
        returning_id=insert(table).returning(table.c.id),
        returning_ids_in_order=insert(table).returning(table.c.id, sort_by_parameter_order=True),
        largest_id=select(func.max(table.c.id)),
    )


def insert_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows with Core (one statement for many rows); their new ids, in order.

    On SQLite, asking for the ids in order makes SQLAlchemy insert one row per statement
    (SQLite promises no order for RETURNING). So there the ids are given here: SQLite
    itself gives a new row one more than the largest id (the tables have no AUTOINCREMENT),
    and the transaction holds the write lock (BEGIN IMMEDIATE), so these are the ids it
    would have given. The largest is read once per table and transaction (an alert batch
    declares many incidents, each with phases and tasks), then counted on, until a row
    goes in another way (``add_written``, or an ORM flush that inserts)."""
    if not rows:
        return []
    connection = session.connection()
    statements = inserts(table)
    if connection.dialect.name == "sqlite":
        counted = _next_ids(session)
        first = counted.get(table.name)
        if first is None:
            first = int(lean.scalar(session, statements.largest_id, {}) or 0) + 1
        ids = list(range(first, first + len(rows)))
        lean.write(
            session, statements.plain, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
        )
        counted[table.name] = first + len(rows)
        return ids
    return list(connection.scalars(statements.returning_ids_in_order, rows))


NEXT_IDS = "warroom_next_ids"  # session.info: (its transaction, {table: next id}), SQLite


def _next_ids(session: Session) -> dict[str, int]:
    """The ids ``insert_ids`` gives next in this session's transaction, by table."""
    transaction = session.get_transaction()
    held = session.info.get(NEXT_IDS)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[NEXT_IDS] = held
    counted: dict[str, int] = held[1]
    return counted


@event.listens_for(Session, "after_flush")
def _forget_next_ids(session: Session, _context: Any) -> None:
    """Rows the ORM inserted took ids SQLite chose: count from the largest again."""
    if session.new:
        session.info.pop(NEXT_IDS, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_next_ids_rolled_back(session: Session, _previous: Any) -> None:
    """A savepoint rolled back may bring back rows deleted in it: count from the largest."""
    session.info.pop(NEXT_IDS, None)


def add_written(session: Session, model: type[Row], columns: dict[str, Any]) -> Row:
    """A new row written at once with one Core INSERT, then in the session as if loaded
    (later changes to it are flushed as usual). ``columns`` gives every column but the id.
    Costs a fraction of adding the object and flushing the ORM's unit of work; inside a
    savepoint it is added and flushed all the same."""
    if session.in_nested_transaction():  # a savepoint may roll back: then the ORM must
        row = model(**columns)  # forget the row, which it does only for rows it flushed
        session.add(row)
        session.flush()
        return row
    if session.new:  # the ORM's pending rows go first: this one may refer to them
        session.flush()
    session.info.pop(NEXT_IDS, None)  # SQLite chooses this one's id
    statement = inserts(table_of(model)).returning_id
    new_id = session.connection().execute(statement, columns).scalar_one()
    row = model(id=new_id, **columns)
    make_transient_to_detached(row)
    session.add(row)
    return row


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, stored the same way on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, the text SQLAlchemy stores (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) made
        with one C call instead of a format string over seven attributes: every alert
        writes several of these, most of them the same time (its batch's), so the text of
        the last one is kept (one pair, replaced whole: threads share it)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        last: list[tuple[datetime | None, str | None]] = [(None, None)]

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            known = last[0]
            if known[0] is value:
                return known[1]
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            utc = value if value.tzinfo is UTC else value.astimezone(UTC)
            text = utc.isoformat(" ", "microseconds")[:26]
            last[0] = (value, text)
            return text

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def is_sqlite(url: str) -> bool:
    """Whether the URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def json_text(value: Any) -> str:
    """A JSON column's text: with orjson, several times faster than json (every alert writes
    its labels, annotations and details); with json what orjson refuses (integers wider
    than 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


WIDE_NUMBER = re.compile(r"\d{19}")  # may not fit 64 bits: orjson would read a float
WIDE_NUMBER_BYTES = re.compile(rb"\d{19}")


def json_value(text: str | bytes) -> Any:
    """A JSON column's value: with orjson; with json for what only json reads exactly
    (integers wider than 64 bits) or at all (NaN, written by json before)."""
    wide = WIDE_NUMBER.search(text) if isinstance(text, str) else WIDE_NUMBER_BYTES.search(text)
    if wide:
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def create_db_engine(url: str) -> Engine:
    """An engine for the URL, with SQLite made safe for concurrent writers."""
    json_io: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": json_value}
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **json_io)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **json_io,
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" hook issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    loopfirst.attach(dbapi_connection)


AUTOCHECKPOINT = "warroom_wal_autocheckpoint"  # a pooled connection's setting, as last set
SQLITE_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default


def leave_checkpoints(engine: Engine, elsewhere: Callable[[], bool]) -> None:
    """SQLite: while ``elsewhere()`` is true, the engine's connections take no checkpoints
    of their own (``checkpoints.Checkpointer`` takes them); otherwise SQLite's default."""

    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        pages = 0 if elsewhere() else SQLITE_AUTOCHECKPOINT_PAGES
        if record.info.get(AUTOCHECKPOINT, SQLITE_AUTOCHECKPOINT_PAGES) != pages:
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={pages}")
            record.info[AUTOCHECKPOINT] = pages

    event.listen(engine, "checkout", on_checkout)


READ_ONLY = "warroom_read_only"


def _begin_immediate(connection: Any) -> None:
    """Writers take the write lock up front; readers (WAL) read a snapshot, unblocked."""
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite they neither wait for nor block writers."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


_SQLITE_LOCKS: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()
_SQLITE_LOCKS_GUARD = threading.Lock()


def _process_lock(engine: Engine) -> threading.RLock | None:
    """For SQLite, one lock per engine: threads of this process queue on it in order
    instead of polling SQLite's busy handler, which sleeps up to 100 ms between tries."""
    if engine.dialect.name != "sqlite":
        return None
    with _SQLITE_LOCKS_GUARD:
        return _SQLITE_LOCKS.setdefault(engine, threading.RLock())


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    bind = factory.kw.get("bind")
    writes = isinstance(bind, Engine) and not bind.get_execution_options().get(READ_ONLY)
    lock = _process_lock(bind) if writes and isinstance(bind, Engine) else None
    with lock or nullcontext(), factory() as session, session.begin():
        yield session
