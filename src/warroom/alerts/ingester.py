"""Ingest what the intake stored: the oldest entries first, a chunk at a time, each chunk
ingested and deleted in one transaction.

Every ingesting thread (one per ``serve`` process) takes the oldest entries, and takes them
under a lock, so alerts are ingested in the order they were accepted even when several
processes share a PostgreSQL database. If a chunk fails, each entry in it is ingested
alone; one that still fails is set aside with its error and holds up nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import traceback
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from warroom.alerts import backlog, journal, service
from warroom.alerts.batch import StartedGroup
from warroom.alerts.normalize import NormalizedAlert
from warroom.runtime import Runtime

logger = logging.getLogger("warroom.alerts")
PROCESS_ALERTS = 100  # alerts per ingesting transaction
MOVE_ALERTS = 1000  # alerts per transaction moving them from the journal (SQLite)
RETRY_SECONDS = 1.0  # after the database failed us
ALARM_FINGERPRINT = "warroom-intake-failed"
ALARM_LABELS = {"alertname": "WarroomIntakeFailed", "service": "warroom", "severity": "critical"}
UNREAD_RESULTS = timedelta(minutes=5)  # a result kept for a waiting request, at most
FORGET_EVERY_SECONDS = 60.0  # how often such results are looked for


class Ingester:
    def __init__(self, runtime: Runtime, *, process_alerts: int = PROCESS_ALERTS) -> None:
        self.runtime = runtime
        self.process_alerts = process_alerts
        self._forget_at = 0.0  # when to drop unread results next (monotonic)
        # alerts the last chunk taken from the journal held (a chunk from the table: none)
        self.journal_alerts = 0
        # told, after each commit, of the alert groups that started firing in it
        self.on_started: Callable[[list[StartedGroup]], None] = lambda started: None
        path = journal.path_for(runtime.settings.resolved_database_url())
        self._mover = journal.Mover(path) if path is not None else None

    def move_journal(self) -> None:
        """Move what the journal holds into the intake table (SQLite; see ``journal``): a
        request stored there afterwards then comes after it."""
        mover = self._mover
        if mover is None:
            return
        try:
            while mover.has_more():
                with self.runtime.transaction() as session:
                    if not mover.move(session=session, max_alerts=MOVE_ALERTS):
                        break
        except BaseException:
            mover.rewind()
            raise
        mover.checkpoint()

    def ingest_next(self) -> bool:
        """Ingest the oldest stored entries; whether there may be more. What the intake
        table holds is older than what the journal holds after its mark (it is moved there
        before a request is stored in the table), so the table goes first."""
        ids: list[int] = []
        self.journal_alerts = 0
        try:
            if self._mover is not None and self._mover.has_more():
                ids = self._ingest_journal()
                if not ids:
                    return True
            else:
                if self._table_may_hold_entries():
                    with self.runtime.read() as session:
                        ids = backlog.next_ids(session=session, max_alerts=self.process_alerts)
                if not ids:
                    self._tidy()
                    return False
            self._ingest(ids)
        except (OperationalError, sqlite3.Error):  # unreachable or busy: try again soon
            logger.exception("ingesting stored alerts failed; trying again in a second")
            time.sleep(RETRY_SECONDS)
        except Exception:
            if not ids:  # choosing them failed: not an entry's fault
                logger.exception("reading stored alerts failed; trying again in a second")
                time.sleep(RETRY_SECONDS)
            for one in ids:  # alone, so that one entry that cannot be ingested holds up none
                if not self._ingest_alone(one):
                    break  # the database failed: the rest waits, in order, for the next try
        return True

    def _ingest_journal(self) -> list[int]:
        """Ingest the journal's oldest entries straight from it, and raise its mark, in one
        transaction. If they cannot be ingested together, they are moved into the intake
        table, where each is ingested alone (or set aside). When the table holds entries
        (older than the journal's), nothing is taken: their ids, to go first."""
        mover = self._mover
        assert mover is not None
        started: list[StartedGroup] = []
        try:
            with self.runtime.transaction(events_now=True) as session:  # under the write lock
                session.connection()  # taken now (BEGIN IMMEDIATE): nobody adds entries meanwhile
                if self._table_may_hold_entries():
                    ids = backlog.next_ids(session=session, max_alerts=self.process_alerts)
                    if ids:
                        return ids
                entries = mover.take(session=session, max_alerts=self.process_alerts)
                self.journal_alerts = sum(len(e.alerts) for e in entries)
                if entries:
                    service.ingest_entries(
                        session=session,
                        playbook=self.runtime.playbook,
                        entries=entries,
                        clock=self.runtime.clock,
                        started=started,
                    )
            self._tell(started)
        except (OperationalError, sqlite3.Error):
            mover.rewind()
            raise
        except Exception:
            mover.rewind()
            logger.warning("ingesting journal entries together failed; each goes alone")
            with self.runtime.transaction() as session:
                mover.move(session=session, max_alerts=self.process_alerts)
        mover.checkpoint()
        return []

    def _table_may_hold_entries(self) -> bool:
        """Whether to query the intake table for its oldest entries. On SQLite a raw look
        comes first: the table is empty nearly always, and the look costs less."""
        return self._mover is None or self._mover.table_has_entries()

    def _tidy(self) -> None:
        """In a quiet moment, now and then: drop results no request came back for."""
        if time.monotonic() < self._forget_at:
            return
        self._forget_at = time.monotonic() + FORGET_EVERY_SECONDS
        with self.runtime.transaction() as session:
            backlog.forget_unread(session=session, before=self.runtime.clock.now() - UNREAD_RESULTS)

    def _ingest(self, ids: list[int]) -> None:
        started: list[StartedGroup] = []
        with self.runtime.transaction(events_now=True) as session:
            taken = backlog.take(session=session, ids=ids)
            if taken:  # none: another process ingested them
                results = service.ingest_entries(
                    session=session,
                    playbook=self.runtime.playbook,
                    entries=[t.entry for t in taken],
                    clock=self.runtime.clock,
                    started=started,
                )
                backlog.finish(session=session, taken=taken, results=results)
        self._tell(started)

    def _tell(self, started: list[StartedGroup]) -> None:
        """Tell of the groups that started firing in a committed ingest (nothing may fail
        the ingest after its commit)."""
        if started:
            try:
                self.on_started(started)
            except Exception:
                logger.exception("telling of %d alert groups that started failed", len(started))

    def _ingest_alone(self, entry_id: int) -> bool:
        """Ingest one entry, or set it aside if it fails; False when the database failed
        (nothing changed: it is tried again, before anything after it)."""
        try:
            self._ingest([entry_id])
        except OperationalError:
            logger.exception("ingesting intake entry %s failed; trying again", entry_id)
            time.sleep(RETRY_SECONDS)
            return False
        except Exception:
            logger.exception("ingesting intake entry %s failed; it is set aside", entry_id)
            error = traceback.format_exc(limit=5)
            try:
                with self.runtime.transaction() as session:
                    integration_id = backlog.fail(session=session, entry_id=entry_id, error=error)
                    if integration_id is not None:
                        self._raise_alarm(session, integration_id, entry_id)
            except OperationalError:
                return False
        return True

    def _raise_alarm(self, session: Session, integration_id: int, entry_id: int) -> None:
        """With setting the entry aside, an alert of the integration's own, routed like any
        other (by default a P1 incident): alerts were accepted but not turned into
        incidents. One open alert for all such failures of the integration counts them."""
        alarm = NormalizedAlert(
            fingerprint=ALARM_FINGERPRINT,
            status="firing",
            summary="warroom could not ingest alerts it accepted; see `warroom alert intake`",
            source="warroom",
            labels=ALARM_LABELS,
            annotations={"entry": str(entry_id)},
        )
        try:
            with session.begin_nested():  # if it fails, the entry is set aside all the same
                service.ingest_entries(
                    session=session,
                    playbook=self.runtime.playbook,
                    entries=[service.Entry(integration_id=integration_id, alerts=[alarm])],
                    clock=self.runtime.clock,
                )
        except Exception:  # the log line above is all that is left
            logger.exception("could not raise the alarm for intake entry %s", entry_id)
