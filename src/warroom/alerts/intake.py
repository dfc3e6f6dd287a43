"""The intake: every hook request is answered once its alerts are committed, then ingested
(dedup, silences, routing, incidents) after the answer, in the order they came.

- **Accept** (group commit): the requests that came together are stored in one transaction,
  and each is answered after that commit. When a shared transaction fails, each request is
  retried alone, so one bad request never fails another. On SQLite the event loop itself
  stores them, in a journal file of their own (``journal``), so that accepting never waits
  for ingesting's hold on the database; elsewhere (PostgreSQL, and requests that wait for
  their ingest) the intake thread stores them in the intake table, before it ingests more.
- **Ingest** (``Ingester``, in the intake thread, one per process): the oldest stored
  entries (on SQLite, those of the table, then the journal's), a chunk at a time: when no
  request to the thread has come for ``GRACE_SECONDS``, and for at least ``INGEST_SHARE``
  of the time under a steady stream of them. On SQLite, while a flood of requests keeps
  the event loop busy, it stands aside for a bounded time (``frontdoor``); under a steady
  trickle of requests, a chunk from the journal starts at most every ``TRICKLE_SECONDS``
  after one that held fewer than ``TRICKLE_ALERTS``, so that each transaction takes what
  came meanwhile (a transaction's fixed cost is several alerts' worth: ingesting one alert
  at a time costs about twice the processor).

A 2xx answer means the alerts are committed: a crash before they are ingested loses nothing,
since the next start ingests the stored entries first (``wake``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass

from warroom.alerts import backlog, journal
from warroom.alerts.backlog import Stored, Submission
from warroom.alerts.batch import IngestResult
from warroom.alerts.frontdoor import PROBE_SECONDS, FrontDoor
from warroom.alerts.ingester import RETRY_SECONDS, Ingester
from warroom.alerts.notices import Notices
from warroom.errors import WarroomError
from warroom.runtime import Runtime

logger = logging.getLogger("warroom.alerts")
ACCEPT_ALERTS = 5000  # alerts per accepting transaction
INGEST_SHARE = 0.3  # under a stream of requests to the thread, ingesting gets at least this
GRACE_SECONDS = 0.0003  # before ingesting, how long to wait for a request about to come
TRICKLE_SECONDS = 0.01  # after a small chunk from the journal, the next starts this much later
TRICKLE_ALERTS = 50  # a chunk of fewer alerts is small
IDLE_SECONDS = 5.0  # the thread ends after this long without work
STOP_SECONDS = 5.0  # at shutdown, ingesting what is stored gets at most this long


WAIT_SECONDS = 30.0  # a request that waits for its ingest gets at most this long
WAIT_POLL_SECONDS = 0.002  # how often such a request looks whether it is done


@dataclass(frozen=True)
class Accepted:
    """A request's alerts, committed; what ingesting them did when the request waited for it
    (None when it did not, or its ingest failed or took longer than WAIT_SECONDS)."""

    alerts: int
    result: IngestResult | None = None


@dataclass(slots=True)  # one a request: not frozen, which costs more to make
class _Waiting:
    submission: Submission
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[Stored]


class Intake:
    def __init__(
        self,
        runtime: Runtime,
        *,
        accept_alerts: int = ACCEPT_ALERTS,
    ) -> None:
        self.runtime = runtime
        self.accept_alerts = accept_alerts
        self._ingester = Ingester(runtime)
        self.notices = Notices(runtime)
        self._ingester.on_started = self.notices.started_by_ingest
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._stop_by: float | None = None  # when stopping: the time to give up ingesting
        self._next_chunk_at = 0.0  # after a small chunk: when the next may start (monotonic)
        self._stopping = threading.Event()  # set by stop: a pause between chunks ends
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        url = runtime.settings.resolved_database_url()
        self._journal_path = journal.path_for(url)
        self._appender: journal.Appender | None = None
        self._appender_lock = threading.Lock()
        self._appending: dict[asyncio.AbstractEventLoop, list[_Waiting]] = {}
        # on SQLite only: elsewhere this thread accepts too, and standing aside would delay it
        self._front = FrontDoor() if self._journal_path is not None else None
        if self._front is not None:
            front = self._front
            self.notices.flooded = lambda: front.flooded

    async def submit(self, submission: Submission) -> Accepted:
        """Store the submission; returns once it is committed (with ``wait``: once it is
        ingested too, by whichever process). Raises its WarroomError: unknown key, wrong
        token."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(submission, loop, loop.create_future())
        if self._journal_path is not None and not submission.wait:
            return Accepted(alerts=(await self._append(waiting)).alerts)
        self._queue.put(waiting)
        self.wake()
        stored = await waiting.answer
        if stored.entry_id is None:
            return Accepted(alerts=stored.alerts)
        result = await self._wait_for(stored.entry_id, loop)
        return Accepted(alerts=stored.alerts, result=result)

    async def _append(self, waiting: _Waiting) -> Stored:
        """Store the request in the journal with the others of this turn of the event loop."""
        queued = self._appending.setdefault(waiting.loop, [])
        queued.append(waiting)
        if len(queued) == 1:  # the first of this turn: store them all once it ends
            waiting.loop.call_soon(self._append_queued, waiting.loop)
        return await waiting.answer

    def _append_queued(self, loop: asyncio.AbstractEventLoop) -> None:
        queued = self._appending.pop(loop, [])
        if queued:
            if self._front is not None:
                self._front.watch_this_thread()
            outcomes = self._append_now(queued)
            _notice_and_settle(self.notices, outcomes)
            # the thread moves them into the database and ingests them, once the answers are
            # on their way: woken now, it would take the interpreter from them for its ingest
            # (and once the first notices of its alert groups are sent: notices.py)
            loop.call_soon(self.notices.when_sent, self._wake_ingest)

    def _append_now(self, queued: list[_Waiting]) -> list[tuple[_Waiting, Stored | Exception]]:
        try:
            outcomes = self._journal_appender().append(
                [w.submission for w in queued], self.runtime.clock.now()
            )
        except Exception as exc:
            if len(queued) > 1:  # alone, so that one bad request fails only itself
                return [answer for one in queued for answer in self._append_now([one])]
            if not isinstance(exc, WarroomError):
                logger.exception("storing alerts failed")
            return [(queued[0], exc)]
        return list(zip(queued, outcomes, strict=True))

    def _journal_appender(self) -> journal.Appender:
        """The one appender of this intake, made by the first event loop that stores (the
        test client runs one per thread: several may come at once)."""
        with self._appender_lock:
            if self._appender is None:
                assert self._journal_path is not None
                self._appender = journal.Appender(self._journal_path)
            return self._appender

    async def _wait_for(
        self, entry_id: int, loop: asyncio.AbstractEventLoop
    ) -> IngestResult | None:
        """What ingesting the entry did, once some process has (None after WAIT_SECONDS, or
        when it was set aside, or the database failed us: the alerts are committed anyway)."""
        deadline = loop.time() + WAIT_SECONDS
        try:
            while loop.time() < deadline:
                await asyncio.sleep(WAIT_POLL_SECONDS)
                done, result = await asyncio.to_thread(self._outcome, entry_id)
                if done:
                    return result
        except Exception:
            logger.exception("waiting for the ingest of intake entry %s failed", entry_id)
        return None

    def _outcome(self, entry_id: int) -> tuple[bool, IngestResult | None]:
        with self.runtime.read() as session:  # looking takes no write lock
            done, result = backlog.outcome(session=session, entry_id=entry_id)
        if done and result is not None:
            with self.runtime.transaction() as session:  # read once: forget it
                backlog.forget(session=session, entry_id=entry_id)
        return done, result

    def _wake_ingest(self) -> None:
        self._queue.put(None)
        self.wake()

    def wake(self) -> None:
        """Make sure the thread runs: it ingests what is stored, then waits for requests."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="warroom-intake", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Answer the requests waiting, ingest what is stored (for at most ``timeout``; the
        rest waits for the next start), then end the thread."""
        with self._lock:  # the thread may be retiring: then there is nothing to stop
            thread = self._thread
            if thread is None:
                return
            self._stop_by = time.monotonic() + timeout
        self._stopping.set()
        self._queue.put(None)  # wake it
        thread.join(timeout + 1.0)

    def _run(self) -> None:
        stored = True  # unknown at start: look
        ingest_by = 0.0  # under a stream of requests, ingest again by this time
        while True:
            stopping = self._stop_by is not None
            idle = not stored and not stopping
            waiting, woken = self._gather(wait=IDLE_SECONDS if idle else 0.0)
            if not waiting and not woken and stored and not stopping:
                waiting, woken = self._gather(wait=GRACE_SECONDS)  # the next is often near
            stored = stored or woken  # woken: the event loop stored some in the journal
            if not waiting and (idle or (stopping and not stored)) and not woken:
                if self._retire():
                    return
                continue
            if waiting:
                self._accept(waiting)
                stored = True
                if time.monotonic() < ingest_by:
                    continue
            if stopping and time.monotonic() > (self._stop_by or 0.0):
                stored = False  # out of time: the next start ingests the rest
                continue
            front = self._front
            if front is not None and not stopping and front.stand_aside():  # a flood
                time.sleep(PROBE_SECONDS)  # accepting goes first
                continue
            if self.notices.silences_ageing():  # read here: the event loop need not
                self._read_silences()
            if not stopping and (pause := self._next_chunk_at - time.monotonic()) > 0:
                self._stopping.wait(pause)  # a trickle: the next chunk takes what comes meanwhile
            started = time.monotonic()
            stored = self._ingest_next()
            if 0 < self._ingester.journal_alerts < TRICKLE_ALERTS:
                self._next_chunk_at = started + TRICKLE_SECONDS
            if not stored:
                self._caught_up(started)
            ended = time.monotonic()
            ingest_by = ended + (ended - started) * (1 - INGEST_SHARE) / INGEST_SHARE

    def _ingest_next(self) -> bool:
        """Ingest a chunk; whether there may be more. Nothing may end this thread: requests
        wait on it."""
        try:
            return self._ingester.ingest_next()
        except Exception:
            logger.exception("ingesting stored alerts failed; trying again in a second")
            time.sleep(RETRY_SECONDS)
            return True

    def _caught_up(self, since: float) -> None:
        """Everything stored before ``since`` (monotonic) is ingested."""
        if self._front is not None:
            self._front.caught_up()
        try:
            self.notices.caught_up(since)
        except Exception:
            logger.exception("reading the firing alert groups failed")

    def _read_silences(self) -> None:
        try:
            self.notices.read_silences()
        except Exception:
            logger.exception("reading the silences failed")

    def _retire(self) -> bool:
        """End the thread unless a request came in meanwhile; whether it ended."""
        with self._lock:
            if not self._queue.empty():
                return False
            self._thread = None
            self._stop_by = None
            self._stopping.clear()
            return True

    def _gather(self, *, wait: float) -> tuple[list[_Waiting], bool]:
        """The requests waiting, up to ``accept_alerts`` alerts, after waiting at most
        ``wait`` seconds for the first (none: at once); and whether the thread was woken
        (``None`` in the queue: the journal has more, or the thread is to stop)."""
        waiting: list[_Waiting] = []
        woken = False
        alerts = 0
        try:
            more = self._queue.get(timeout=wait) if wait else self._queue.get_nowait()
        except queue.Empty:
            return waiting, woken
        while True:
            if more is None:
                woken = True
            else:
                waiting.append(more)
                alerts += more.submission.count
            if alerts >= self.accept_alerts:
                return waiting, woken
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                return waiting, woken

    def _accept(self, waiting: list[_Waiting]) -> None:
        try:
            self._ingester.move_journal()  # what the journal holds came first
            with self.runtime.transaction() as session:
                outcomes = backlog.store(
                    session=session,
                    submissions=[w.submission for w in waiting],
                    now=self.runtime.clock.now(),
                )
        except Exception as exc:
            if len(waiting) > 1:
                for one in waiting:  # alone, so that one bad request fails only itself
                    self._accept([one])
                return
            if not isinstance(exc, WarroomError):
                logger.exception("storing alerts failed")
            _answer(self.notices, [(waiting[0], exc)])
            return
        _answer(self.notices, list(zip(waiting, outcomes, strict=True)))


def _answer(notices: Notices, answers: list[tuple[_Waiting, Stored | Exception]]) -> None:
    """Settle each request's future on its event loop: one wake-up per loop, not per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiting, Stored | Exception]]] = {}
    for one, outcome in answers:
        by_loop.setdefault(one.loop, []).append((one, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed event loop: nobody waits any more
            loop.call_soon_threadsafe(_notice_and_settle, notices, settled)


def _notice_and_settle(
    notices: Notices, answers: list[tuple[_Waiting, Stored | Exception]]
) -> None:
    """On the requests' event loop: the first notices of what was committed go out ahead of
    the answers (whether the clients still wait or not), then each request is answered.
    When a notice started, the answers wait a turn of the loop: the notice's first step
    hands its request's body to a task of its own (aiohttp, before Python 3.12), which
    would otherwise be written after the answers."""
    started = notices.after_commit(
        [(w.submission, stored) for w, stored in answers if isinstance(stored, Stored)]
    )
    if started:
        asyncio.get_running_loop().call_soon(_settle, answers)
    else:
        _settle(answers)


def _settle(answers: list[tuple[_Waiting, Stored | Exception]]) -> None:
    for waiting, outcome in answers:
        if waiting.answer.done():  # the client went away
            continue
        if isinstance(outcome, Exception):
            waiting.answer.set_exception(outcome)
        else:
            waiting.answer.set_result(outcome)
