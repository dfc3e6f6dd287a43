"""On SQLite, the intake's front: a journal file of its own beside the database
(``warroom.db-intake``), written from the event loop.

SQLite has one writer per file, and ingesting holds the database's write lock for tens of
milliseconds at a time. Committing hook requests to a separate file means that a request
never waits for an ingest: the event loop stores every request that came in one turn with
one ``executemany`` and one commit (group commit), then answers them all. The intake thread
then ingests the journal's entries, oldest first, straight from it, in one transaction of
the database with the mark of the last one taken (``alert_intake_journal``). Only entries
after the mark are ever taken, so each is ingested exactly once whatever crashes when;
taken entries are deleted from the journal by later commits of the event loop, a few with
each.

Entries are moved into the intake table (``alert_intake``) instead, in the same exactly-once
way, before a request that waits for its ingest (``?wait=true``) is stored there by the
intake thread (so the table holds only entries older than the journal's: the order stays
the order of acceptance), and when a chunk cannot be ingested together (the table then
ingests each alone, or sets it aside).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from warroom import lean, loopfirst
from warroom.alerts import backlog, integrations
from warroom.alerts.backlog import INTAKE, State, Stored, Submission
from warroom.alerts.models import IntakeJournalMark
from warroom.alerts.normalize import NormalizedAlert, from_record, to_record
from warroom.alerts.service import Entry
from warroom.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite, table_of
from warroom.errors import WarroomError

SUFFIX = "-intake"
MARK = table_of(IntakeJournalMark)
MARK_ID = 1  # the mark is one row
CACHE_KIB = 512  # page cache of each connection (SQLite's default: 2 MiB)
SCAN_ROWS = 1000  # journal rows read per move, at most
# Built once: building a statement costs more than running it on SQLite.
MARK_VALUE = select(MARK.c.moved_through).where(MARK.c.id == MARK_ID)
MOVE_MARK = update(MARK).where(MARK.c.id == MARK_ID).values(moved_through=bindparam("through"))
FIRST_MARK = insert(MARK).values(id=MARK_ID, moved_through=bindparam("through"))
PRESENT = select(integrations.INTEGRATIONS.c.id).where(
    integrations.INTEGRATIONS.c.id.in_(bindparam("ids", expanding=True))
)
TABLE_HAS_ENTRIES = str(  # for a connection of sqlite3's own
    select(literal(1))
    .select_from(INTAKE)
    .where(backlog.UNDONE)
    .limit(1)
    .compile(dialect=sqlite_dialect.dialect(), compile_kwargs={"literal_binds": True})
)
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    alerts TEXT,
    webhook BLOB,
    acknowledge TEXT,
    number INTEGER,
    alerts_through INTEGER
)
"""
# Each entry's place, counted on from the entry before it when it was stored: its number,
# and the alerts of the entries up to it. So the entries and alerts pending are told from
# the first pending entry and the last, without reading every entry in between. The count
# starts from 0 in an empty journal. A journal from before these columns gets them on
# opening; its older entries, without, are counted by reading them while any is pending,
# and an entry stored without them by an earlier version beside this one is counted in by
# the next append.
RUNNING_COLUMNS = ("number", "alerts_through")
# what an append reads first, in one statement (each statement lets another thread in):
# the key generation, and the last entry's running count
APPEND_STATE = (
    "SELECT (SELECT value FROM key_generation WHERE id = 1), "
    "(SELECT number FROM entries ORDER BY id DESC LIMIT 1), "
    "(SELECT alerts_through FROM entries ORDER BY id DESC LIMIT 1)"
)
USED_IDS = (  # the ids handed out so far: SQLite's sequence, and the largest still there
    "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'entries'), (SELECT max(id) FROM entries)"
)
LAST_COUNTED = (
    "SELECT number, alerts_through, id FROM entries WHERE number IS NOT NULL "
    "ORDER BY id DESC LIMIT 1"
)
INSERT_ENTRY = (
    "INSERT INTO entries (integration_id, received_at, size, kind, alerts, webhook, "
    "acknowledge, number, alerts_through) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
PENDING_ENDS = (  # one statement: both ends from one snapshot of the journal
    "SELECT head.number, head.alerts_through - head.size, head.received_at, "
    "tail.number, tail.alerts_through FROM "
    "(SELECT number, alerts_through, size, received_at FROM entries "
    "WHERE id > ? ORDER BY id LIMIT 1) AS head, "
    "(SELECT number, alerts_through FROM entries ORDER BY id DESC LIMIT 1) AS tail"
)
COUNT_PENDING = (
    "SELECT count(*), coalesce(sum(size), 0), min(received_at) FROM entries WHERE id > ?"
)


GENERATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS key_generation (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)
"""
BUMP_GENERATION = (
    "INSERT INTO key_generation (id, value) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET value = value + 1"
)
MARK_EVERY_SECONDS = 0.5  # how often an appender that knows its keys reads the mark
CHECKPOINT_EVERY_SECONDS = 0.2  # how often the intake thread checkpoints the journal, at most
TRIM_PER_ENTRY = 4  # taken entries an append deletes for each it appends, at most (Appender._trim)
TRIM = "DELETE FROM entries WHERE id IN (SELECT id FROM entries WHERE id <= ? ORDER BY id LIMIT ?)"
WAL_KEPT_BYTES = 8 * 1024 * 1024  # a log that starts over is cut back to this (after a flood)
_WRITE_LOCKS: dict[Path, threading.Lock] = {}  # this process's, by journal file (_write_lock)
_WRITE_LOCKS_GUARD = threading.Lock()


def path_for(url: str) -> Path | None:
    """The journal of the SQLite database at ``url``; None for any other database (and for
    an in-memory SQLite, which no second connection could share)."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    main = Path(database)
    return main.with_name(main.name + SUFFIX)


def database_of(journal: Path) -> Path:
    """The database whose journal this is."""
    return journal.with_name(journal.name.removesuffix(SUFFIX))


def connect(path: Path) -> sqlite3.Connection:
    """A connection to a SQLite file in WAL mode (commits survive a crash of the process,
    as the database's do), in autocommit mode: transactions are begun explicitly."""
    connection = sqlite3.connect(
        path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # small rows, read once: little cache
    loopfirst.attach(connection)
    return connection


def open_journal(path: Path) -> sqlite3.Connection:
    connection = connect(path)
    connection.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
    connection.execute(SCHEMA)
    connection.execute(GENERATION_SCHEMA)
    present = {row[1] for row in connection.execute("PRAGMA table_info(entries)")}
    for column in RUNNING_COLUMNS:
        if column not in present:  # a journal from before them
            try:
                connection.execute(f"ALTER TABLE entries ADD COLUMN {column} INTEGER")
            except sqlite3.OperationalError:  # another process added it meanwhile
                if column not in {
                    row[1] for row in connection.execute("PRAGMA table_info(entries)")
                }:
                    raise
    return connection


def keys_changed(url: str) -> None:
    """Tell the appenders of the database at ``url``, in any process, that the integrations'
    keys changed: called once the change is committed, so that an appender that sees the new
    generation reads the keys as they are now."""
    path = path_for(url)
    if path is None or not path.exists():  # no journal: no appender has read any key
        return
    connection = open_journal(path)
    try:
        with _transaction(connection):
            connection.execute(BUMP_GENERATION)
    finally:
        connection.close()


def moved_through(session: Session) -> int:
    """The mark: the last journal entry taken, ingested or moved into the intake table (0:
    none yet)."""
    through: int | None = lean.scalar(session, MARK_VALUE, {})
    return through or 0


@contextmanager
def _transaction(connection: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    """A transaction on a connection in autocommit mode: committed, or rolled back on error."""
    connection.execute(begin)
    try:
        yield
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _mark(main: sqlite3.Connection) -> int:
    row = main.execute(
        f"SELECT moved_through FROM {MARK.name} WHERE id = ?",  # noqa: S608 (a constant)
        (MARK_ID,),
    ).fetchone()
    return int(row[0]) if row else 0


def _write_lock(journal: Path) -> threading.Lock:
    """This process's lock on writing to the journal: an appender holds it while it
    appends, and the intake thread for the last part of its checkpoint
    (``Mover.checkpoint``)."""
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(journal.resolve(), threading.Lock())


class Appender:
    """The event loop's side: stores requests in the journal. Thread-safe (a lock), though
    one event loop uses it at a time.

    The integrations of the keys it saw are kept: the database is read again only for a key
    not seen, and once the journal's key generation moved (``keys_changed``). The mark (what
    the journal no longer needs to keep) is read with them, or every MARK_EVERY_SECONDS."""

    def __init__(self, journal: Path) -> None:
        self._journal = open_journal(journal)
        # a checkpoint waits for the disk: the intake thread takes them (Mover.checkpoint)
        self._journal.execute("PRAGMA wal_autocheckpoint=0")
        self._main = connect(database_of(journal))
        self._lock = _write_lock(journal)
        self._deleted_through = 0
        self._holders: dict[str, integrations.KeyHolder] = {}
        self._generation = -1  # of the keys in _holders
        self._mark = 0
        self._mark_read_at = -math.inf
        with self._lock:
            self._start_after(_mark(self._main))

    def _start_after(self, mark: int) -> None:
        """New ids come after the mark, even when the journal file was new or replaced: an
        entry with an id at or below it would never be moved. Looked at and set in one
        transaction: an appender starting beside another (another process, or another event
        loop's) must not set the numbers back below ids the other has used meanwhile."""
        with _transaction(self._journal):
            used, largest = self._journal.execute(USED_IDS).fetchone()
            if max(used or 0, largest or 0) >= mark:
                return
            self._journal.execute("DELETE FROM sqlite_sequence WHERE name = 'entries'")
            self._journal.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('entries', ?)", (mark,)
            )
            self._journal.execute("DELETE FROM entries WHERE id <= ?", (mark,))

    def append(
        self, submissions: Sequence[Submission], now: datetime
    ) -> list[Stored | WarroomError]:
        """Store each submission whose key, kind and token check out, in one commit; for each,
        what was stored or the error it gets. Raises when the commit fails (nothing stored)."""
        with self._lock:
            with _transaction(self._journal):  # the key generation is read in it too
                generation, number, alerts = self._journal.execute(APPEND_STATE).fetchone()
                found, mark = self._known({s.key for s in submissions}, generation or 0)
                outcomes, rows = _rows(found, submissions, now)
                if rows:
                    if number is None or alerts is None:  # empty, or an earlier version's
                        number, alerts = self._counted_through_last()
                    self._insert(rows, number, alerts)
                trimmed = self._trim(mark, len(rows))
            if trimmed:
                self._deleted_through = max(self._deleted_through, mark)
            return outcomes

    def _trim(self, mark: int, appended: int) -> bool:
        """Delete the oldest entries up to the mark (moved into the database: not needed
        here), at most TRIM_PER_ENTRY for each entry appended; whether none is left. Deleted
        all at once, the thousand entries taken since the mark was last read kept the event
        loop for 2 to 6 ms, twice a second under a steady stream."""
        if mark <= self._deleted_through:
            return True
        most = TRIM_PER_ENTRY * max(appended, 1)
        deleted: int = self._journal.execute(TRIM, (mark, most)).rowcount
        return deleted < most

    def _known(
        self, keys: set[str], generation: int
    ) -> tuple[dict[str, integrations.KeyHolder], int]:
        """The integrations of these keys and the mark, read again only when needed (the
        keys once their generation moved)."""
        if generation != self._generation:
            self._holders, self._generation = {}, generation
        stale = time.monotonic() - self._mark_read_at > MARK_EVERY_SECONDS
        if stale or not keys <= self._holders.keys():
            found, self._mark = self._keys(keys)
            self._holders.update(found)
            self._mark_read_at = time.monotonic()
        return {k: self._holders[k] for k in keys if k in self._holders}, self._mark

    def _keys(self, keys: set[str]) -> tuple[dict[str, integrations.KeyHolder], int]:
        """The integrations of these keys, and the mark, from one snapshot of the database."""
        table = integrations.INTEGRATIONS
        marks = ",".join("?" * len(keys))
        with _transaction(self._main, "BEGIN"):
            found = {
                key: integrations.KeyHolder(id_, kind, token_hash)
                for key, id_, kind, token_hash in self._main.execute(
                    f"SELECT key, id, kind, auth_token_hash FROM {table.name} "  # noqa: S608
                    f"WHERE key IN ({marks})",
                    sorted(keys),
                )
            }
            mark = _mark(self._main)
        return found, mark

    def _insert(self, rows: list[tuple[Any, ...]], number: int, alerts: int) -> None:
        """Store the rows, numbered on from the last entry's running count. The transaction
        holds the journal's write lock: nobody appends meanwhile."""
        numbered = []
        for row in rows:
            number += 1
            alerts += row[2]  # its size
            numbered.append((*row, number, alerts))
        self._journal.executemany(INSERT_ENTRY, numbered)

    def _counted_through_last(self) -> tuple[int, int]:
        """The running count through the last entry, when it has none (an empty journal, or
        an entry an earlier version stored): the last counted entry's (none: 0), and the
        entries after it, counted."""
        counted = self._journal.execute(LAST_COUNTED).fetchone()
        number, alerts, after = counted if counted is not None else (0, 0, 0)
        more, more_alerts, _ = self._journal.execute(COUNT_PENDING, (after,)).fetchone()
        return number + more, alerts + more_alerts

    def close(self) -> None:
        with self._lock:
            self._journal.close()
            self._main.close()


def _rows(
    found: dict[str, integrations.KeyHolder], submissions: Sequence[Submission], now: datetime
) -> tuple[list[Stored | WarroomError], list[tuple[Any, ...]]]:
    """For each submission, what it gets (stored, or its error), and the journal rows of
    those stored."""
    outcomes: list[Stored | WarroomError] = []
    rows: list[tuple[Any, ...]] = []
    received = now.isoformat()
    admitted = backlog.admit_each(found, submissions)
    for submission, holder in zip(submissions, admitted, strict=True):
        if isinstance(holder, WarroomError):
            outcomes.append(holder)
            continue
        webhook = submission.webhook
        alerts = None
        if webhook is None:  # normalized already: kept as the intake table keeps them
            records = [to_record(a) for a in submission.alerts]
            alerts = json.dumps(records, separators=(",", ":"))
        body = webhook.body if webhook is not None else None
        size = max(1, submission.count)
        kind, acknowledge = submission.kind, submission.acknowledge
        rows.append((holder.id, received, size, kind, alerts, body, acknowledge))
        outcomes.append(Stored(alerts=submission.count, integration_id=holder.id))
    return outcomes, rows


class _Row(NamedTuple):
    id: int
    integration_id: int
    received_at: str
    size: int
    kind: str
    alerts_json: str | None
    webhook: bytes | None
    acknowledge: str | None

    def records(self) -> list[Any]:
        """The alerts as the intake table keeps them."""
        if self.webhook is not None:
            return [to_record(a) for a in self.alerts()]
        return list(json.loads(self.alerts_json or "[]"))

    def alerts(self) -> list[NormalizedAlert]:
        """The alerts, normalized."""
        if self.webhook is not None:
            return backlog.from_webhook(self.webhook, self.kind)
        return [from_record(record) for record in json.loads(self.alerts_json or "[]")]


class Mover:
    """The intake thread's side: ingests the journal's entries straight from it (``take``), or
    moves them into the intake table (``move``): before a request that waits is stored
    there, and for entries that could not be ingested together."""

    def __init__(self, journal: Path) -> None:
        self._journal = open_journal(journal)
        self._main = connect(database_of(journal))  # to look without a session
        self._moved_through = 0  # the last mark this process saw
        self._checkpointed_at = -math.inf
        self._write_lock = _write_lock(journal)

    def checkpoint(self) -> None:
        """Now and then, copy what the journal's write-ahead log holds into the journal file,
        so that the log starts over instead of growing. The event loop's appender leaves
        this to the intake thread: a checkpoint waits for the disk, and would hold up every
        request waiting on the event loop. (Not the runtime's checkpointer: it runs during a
        flood too, and with the journal's checkpoints there the benchmark's batch-100
        flood was accepted about 40% slower.)

        The log starts over only at a commit that finds all of it copied, and under a steady
        stream a commit always came while a checkpoint waited for the disk: the log grew
        without end (1.4 GB a minute at 2,000 lone alerts/s). So the checkpoint runs twice:
        first without the lock, copying the bulk while requests are still stored (it waits
        6 ms on average at that rate), then under this process's write lock
        (``_write_lock``), copying only what came meanwhile, so that the next commit starts
        the log over."""
        if time.monotonic() - self._checkpointed_at < CHECKPOINT_EVERY_SECONDS:
            return
        self._copy_log()
        with self._write_lock:
            self._copy_log()
        self._checkpointed_at = time.monotonic()

    def _copy_log(self) -> None:
        self._journal.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def has_more(self) -> bool:
        """Whether the journal may hold entries not moved yet (as far as this process knows)."""
        row = self._journal.execute(
            "SELECT 1 FROM entries WHERE id > ? LIMIT 1", (self._moved_through,)
        ).fetchone()
        return row is not None

    def table_has_entries(self) -> bool:
        """Whether the intake table holds entries to ingest (asked, in the quiet moment after
        each ingest, with one statement instead of a session's read transaction)."""
        return self._main.execute(TABLE_HAS_ENTRIES).fetchone() is not None

    def rewind(self) -> None:
        """Forget the mark seen: a transaction that raised it rolled back."""
        self._moved_through = 0

    def move(self, *, session: Session, max_alerts: int) -> int:
        """In the caller's transaction, which holds the database's write lock: the oldest
        entries after the mark, as many as fit in ``max_alerts`` (at least one), into the
        intake table, and the mark after them. How many entries moved."""
        chosen = self._claim(session, max_alerts)
        rows = [
            backlog.intake_row(
                integration_id=r.integration_id,
                received_at=datetime.fromisoformat(r.received_at),
                size=r.size,
                records=r.records(),
                acknowledge=r.acknowledge,
            )
            for r in self._present(session, chosen)
        ]
        if rows:
            session.execute(insert(INTAKE), rows)
        return len(chosen)

    def take(self, *, session: Session, max_alerts: int) -> list[Entry]:
        """In the caller's transaction, which holds the database's write lock and ingests
        them: the oldest entries after the mark, as many as fit in ``max_alerts`` (at least
        one, when there is one), and the mark after them. Those of an integration deleted
        since are among them: ingesting skips them."""
        chosen = self._claim(session, max_alerts)
        return [
            Entry(integration_id=r.integration_id, alerts=r.alerts(), acknowledge=r.acknowledge)
            for r in chosen
        ]

    def _claim(self, session: Session, max_alerts: int) -> list[_Row]:
        """The entries after the mark that fit in ``max_alerts``; the mark is moved after
        them."""
        through = moved_through(session)
        chosen = self._after(through, max_alerts)
        self._moved_through = chosen[-1].id if chosen else through
        if chosen:
            mark = MOVE_MARK if through else FIRST_MARK
            session.connection().execute(mark, {"through": chosen[-1].id})
        return chosen

    @staticmethod
    def _present(session: Session, chosen: list[_Row]) -> list[_Row]:
        """Those whose integration still exists (one deleted since: its alerts go with it,
        as its intake's do)."""
        ids = sorted({r.integration_id for r in chosen})
        present = set(session.scalars(PRESENT, {"ids": ids})) if ids else set()
        return [r for r in chosen if r.integration_id in present]

    def _after(self, through: int, max_alerts: int) -> list[_Row]:
        rows = self._journal.execute(
            "SELECT id, integration_id, received_at, size, kind, alerts, webhook, acknowledge "
            "FROM entries WHERE id > ? ORDER BY id LIMIT ?",
            (through, SCAN_ROWS),
        )
        return backlog.fitting(((entry, entry.size) for entry in map(_Row._make, rows)), max_alerts)


def state(*, session: Session, url: str) -> State:
    """The intake's state: its table's, and (SQLite) the journal's entries not moved yet."""
    stored = backlog.state(session=session)
    path = path_for(url)
    if path is None or not path.exists():
        return stored
    through = moved_through(session)
    connection = connect(path)
    try:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(entries)")}
        if not columns:  # no table yet: nothing was ever stored there
            return stored
        count, alerts, oldest = _pending(connection, through, counted=columns)
    finally:
        connection.close()
    earliest = [o for o in (stored.oldest, datetime.fromisoformat(oldest) if oldest else None) if o]
    return State(
        pending=stored.pending + int(count),
        pending_alerts=stored.pending_alerts + int(alerts),
        failed=stored.failed,
        oldest=min(earliest) if earliest else None,
    )


def _pending(
    connection: sqlite3.Connection, through: int, *, counted: set[str]
) -> tuple[int, int, str | None]:
    """The entries after the mark: how many, their alerts, and when the first came. Told
    from the running count of the first and the last entry; by reading every one while the
    first has none (stored before the count), or the journal has no such columns yet (it
    is left as it is: looking writes nothing)."""
    if set(RUNNING_COLUMNS) <= counted:
        ends = connection.execute(PENDING_ENDS, (through,)).fetchone()
        if ends is None:
            return 0, 0, None
        first, before_first, received, last, alerts_through_last = ends
        if first is not None and last is not None:
            return last - first + 1, alerts_through_last - before_first, received
    count, alerts, oldest = connection.execute(COUNT_PENDING, (through,)).fetchone()
    return int(count), int(alerts), oldest
