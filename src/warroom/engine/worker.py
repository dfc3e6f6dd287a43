"""Claim due jobs and run each exactly once.

A job's effects and its ``done`` mark commit in one transaction, so a worker killed
mid-job leaves the job pending and the next run does it (once). On PostgreSQL, workers
claim with ``FOR UPDATE SKIP LOCKED`` and never take the same row; on SQLite the write
lock makes one worker at a time.

A job whose handler returns an ``Outside`` (sending messages) does its slow part with no
transaction open: the claim commits with the job leased (due again ``LEASE`` later), the
work runs, then the outcome and the ``done`` mark commit together, if the lease is still
this worker's. A worker killed in between leaves the job to be run again when the lease
ends: at least once, as a kill between sending and committing always meant. (An event's
job is done at once instead: the deliveries it queued have jobs of their own, leased.)

The intake thread runs the incident events its own transaction queued in that transaction
(``run_queued_events``), and hands what they leave to send to the worker of its process
(``Worker.hand``): a new incident's webhooks then go out as soon as its alert is ingested,
with no worker pass between.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from warroom.clock import Clock
from warroom.db import transaction
from warroom.engine.handlers import LEASE, Batch, Handler, Outside
from warroom.incidents.events import INCIDENT_EVENT, QUEUED, RUN_HERE, TYPES
from warroom.jobs import service as jobs
from warroom.jobs.models import DONE, FAILED, PENDING, Job

DECLARED = TYPES["declared"]
logger = logging.getLogger("warroom.engine")

MAX_ATTEMPTS = 8
BATCH = 50
TOGETHER_AT_MOST = 10  # jobs of a kind run together in one transaction, at most
HANDED_FOR_AT_MOST = (LEASE - timedelta(seconds=60)).total_seconds()  # a lease less the
# longest a channel may take to send (60 s): handed work older than this is left to its jobs


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_due(
    *,
    factory: sessionmaker[Session],
    clock: Clock,
    handlers: dict[str, Handler],
    limit: int = BATCH,
    name: str | None = None,
    between: Callable[[], object] | None = None,
) -> int:
    """Run up to ``limit`` due jobs, each in its own transaction; returns how many ran.
    ``between`` is called after each transaction's jobs and their outside work.

    One job per transaction keeps row locks short and ordered (a job locks its incident
    after its own row, and nothing else), so workers never deadlock each other. On SQLite,
    where a transaction holds the database's one write lock and no worker can deadlock
    another, jobs whose handler is a ``Batch`` are run several at a time, in one call in a
    savepoint of one transaction: under a burst of them, one claim, a few statements and one
    commit serve many. Should that call fail, each job runs alone in a savepoint of its own,
    so that one failing job holds up none of the others.
    """
    me = name or worker_name()
    taken = 0
    while taken < limit:
        with transaction(factory) as session:
            claimed = list(jobs.claim_due(session=session, now=clock.now(), limit=1))
            if not claimed:
                break
            first = claimed[0]
            batch = handlers.get(first.kind)
            if isinstance(batch, Batch) and session.get_bind().dialect.name == "sqlite":
                claimed += jobs.claim_due(
                    session=session,
                    now=clock.now(),
                    limit=TOGETHER_AT_MOST - 1,
                    kind=first.kind,
                    besides=first.id,
                )
            outside = None
            if isinstance(batch, Batch) and len(claimed) > 1:
                outside = _run_together(
                    session=session, claimed=claimed, batch=batch, clock=clock, me=me
                )
            if outside is None:
                outside = []
                for job in claimed:
                    work = _run_one(session=session, job=job, handlers=handlers, clock=clock, me=me)
                    if work is not None:
                        outside.append(((job.id, job.attempts), work))
        taken += len(claimed)
        if outside:
            _finish_outside(factory=factory, clock=clock, outside=outside, me=me)
        if between is not None:
            between()
    return taken


def run_queued_events(
    *, session: Session, handlers: dict[str, Handler], clock: Clock, me: str
) -> Outside | None:
    """Run the incident events the caller's transaction queued, in it: their deliveries are
    queued with its commit, and what it leaves to send is returned (for a worker of this
    process to send at once). None when there were none, or when they could not be run:
    then nothing of the attempt is kept and their jobs stay due, for any worker.

    In a transaction marked ``RUN_HERE`` their jobs were not written: events run here need
    none, and those that cannot run here have theirs written now. Otherwise their jobs are
    marked done."""
    queued: dict[str, jobs.NewJob] = session.info.pop(QUEUED, {})
    unwritten = bool(session.info.pop(RUN_HERE, False))
    batch = handlers.get(INCIDENT_EVENT)
    if not queued:
        return None
    if not isinstance(batch, Batch) or _earlier_pending(session, queued):
        _left_to_workers(session, queued, unwritten, clock)
        return None
    session.flush()  # what the savepoint would flush first: its errors are the caller's
    try:
        with session.begin_nested():
            if unwritten:
                payloads = [job.payload for job in queued.values()]
            else:
                mine = jobs.finish_leased_many(
                    session=session, keys=list(queued), now=clock.now(), by=me
                )
                payloads = [job.payload for key, job in queued.items() if key in mine]
            outside = _run_batch(batch, session, payloads, clock) if payloads else None
    except DBAPIError:  # the database's, not the events': the caller's transaction fails
        raise
    except Exception:
        logger.warning(
            "running %d queued events failed; a worker runs them", len(queued), exc_info=True
        )
        _left_to_workers(session, queued, unwritten, clock)
        return None
    if not unwritten:
        session.info[jobs.DUE_NOW] = max(0, session.info.get(jobs.DUE_NOW, 0) - len(mine))
    return outside


def _earlier_pending(session: Session, queued: dict[str, jobs.NewJob]) -> bool:
    """Whether an earlier event of one of these incidents waits for a worker: it goes first.
    An incident declared in this transaction has none."""
    subjects = {job.subject for job in queued.values() if job.payload["type"] != DECLARED}
    return bool(subjects) and jobs.any_pending(
        session=session, kind=INCIDENT_EVENT, subjects=subjects, besides=queued
    )


def _left_to_workers(
    session: Session, queued: dict[str, jobs.NewJob], unwritten: bool, clock: Clock
) -> None:
    """The events are a worker's to run: their jobs written, if they were not."""
    if unwritten:
        jobs.schedule_many(session=session, jobs=list(queued.values()), now=clock.now())


def _run_batch(
    batch: Batch, session: Session, payloads: list[dict[str, Any]], clock: Clock
) -> Outside | None:
    """The batch's call; its outside work must be done_first (its jobs are done with it)."""
    outside = batch.run(session, payloads, clock)
    if outside is not None and not outside.done_first:
        raise TypeError("a Batch handler's outside work must be done_first")
    return outside


def _run_one(
    *, session: Session, job: Job, handlers: dict[str, Handler], clock: Clock, me: str
) -> Outside | None:
    """Run the job's handler; what it leaves to do outside the transaction, if anything
    (the job is then leased, not done)."""
    handler = handlers.get(job.kind)
    job.attempts += 1
    if handler is None:
        job.status, job.last_error = FAILED, f"no handler for job kind {job.kind!r}"
        logger.error("job %s: %s", job.id, job.last_error)
        return None
    try:
        with session.begin_nested():
            outside = handler(session, job.payload, clock)
    except Exception as exc:  # a failing job must not stop the others
        _failed(job, exc, clock)
        return None
    if outside is not None and not outside.done_first:
        job.due_at = clock.now() + LEASE
        return outside
    job.status, job.finished_at, job.finished_by = DONE, clock.now(), me
    return outside


def _run_together(
    *, session: Session, claimed: list[Job], batch: Batch, clock: Clock, me: str
) -> list[tuple[tuple[int, int], Outside]] | None:
    """Run the jobs with one call of their handler, all done together; what it leaves to do
    outside the transaction. None when the call failed (nothing it did is kept)."""
    try:
        with session.begin_nested():
            outside = _run_batch(batch, session, [job.payload for job in claimed], clock)
    except Exception:
        logger.warning(
            "%d %s jobs failed together; running each alone",
            len(claimed),
            claimed[0].kind,
            exc_info=True,
        )
        return None
    now = clock.now()
    for job in claimed:
        job.attempts += 1
        job.status, job.finished_at, job.finished_by = DONE, now, me
    if outside is None:
        return []
    return [((claimed[0].id, claimed[0].attempts), outside)]


def _finish_outside(
    *,
    factory: sessionmaker[Session],
    clock: Clock,
    outside: list[tuple[tuple[int, int], Outside]],
    me: str,
) -> None:
    """Do the jobs' outside work, then record each outcome and finish each job (unless it
    was done first), unless its lease ended and another worker took it meanwhile: all in
    one transaction, each record in a savepoint of its own (a lone work done first needs
    none: its failure is logged, and the jobs it leased do the work again)."""
    outcomes = [work.work() for _, work in outside]
    alone = len(outside) == 1 and outside[0][1].done_first  # a savepoint would guard nothing
    try:
        with transaction(factory) as session:
            for ((job_id, attempts), work), outcome in zip(outside, outcomes, strict=True):
                _record(session, job_id, attempts, work, outcome, clock, me, alone=alone)
    except Exception:
        if not alone:
            raise
        # the jobs it leased do the work again when their lease ends
        logger.exception("job %s: recording the outcome of its work failed", outside[0][0][0])


def _record(
    session: Session,
    job_id: int,
    attempts: int,
    outside: Outside,
    outcome: Any,
    clock: Clock,
    me: str,
    *,
    alone: bool = False,
) -> None:
    """Record the outcome. Work done first is recorded in a savepoint, so that its failure
    spoils no other record; ``alone`` (work done first, its transaction's only record),
    without one: its failure rolls the transaction back and reaches the caller."""
    if alone:  # the work's own jobs say whether it is still this worker's
        outside.record(session, outcome, clock, me)
        return
    if outside.done_first:
        try:
            with session.begin_nested():
                outside.record(session, outcome, clock, me)
        except Exception:  # the jobs it leased do the work again when their lease ends
            logger.exception("job %s: recording the outcome of its work failed", job_id)
        return
    job = jobs.leased(session=session, job_id=job_id, attempts=attempts)
    if job is None:
        logger.warning("job %s: its lease ended before its outcome was recorded", job_id)
        return
    try:
        with session.begin_nested():
            outside.record(session, outcome, clock, me)
    except Exception as exc:
        _failed(job, exc, clock)
        return
    job.status, job.finished_at, job.finished_by = DONE, clock.now(), me


def _failed(job: Job, exc: Exception, clock: Clock) -> None:
    """A failing job must not stop the others: it is tried again later, a few times."""
    logger.exception("job %s (%s) failed", job.id, job.kind, exc_info=exc)
    job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if job.attempts >= MAX_ATTEMPTS:
        job.status = FAILED
    else:
        job.status = PENDING
        job.due_at = clock.now() + timedelta(seconds=2**job.attempts)


class Worker:
    """A loop that runs due jobs until stopped."""

    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        read_factory: sessionmaker[Session],
        clock: Clock,
        handlers: dict[str, Handler],
        poll_seconds: float,
    ) -> None:
        self.factory, self.read_factory = factory, read_factory
        self.clock, self.handlers = clock, handlers
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.wakeup = threading.Event()  # set by due_now and hand, or to stop
        self.name = worker_name()
        self.running = False
        self._due_now = False  # a job due now was committed: claim without looking first
        self._handed: deque[tuple[float, Outside]] = deque()  # (monotonic time, work)
        self._due_read: tuple[float, datetime | None] | None = None  # (monotonic time, due)

    def due_now(self) -> None:
        """A job due now was committed: run it at once."""
        self._due_now = True
        self.wakeup.set()

    def hand(self, outside: Outside) -> None:
        """Work a transaction of this process left to do outside it (``run_queued_events``),
        done before the worker's next pass; it must be ``done_first``. When the worker has
        stopped meanwhile (its transaction began while it ran), the caller's thread does it
        now: its jobs are leased to this worker, and would otherwise wait for the lease to
        end. The worker clears ``running`` before its last look at what was handed, and
        this looks after appending, so each handed work is done once, by one of them."""
        self._handed.append((time.monotonic(), outside))
        self.wakeup.set()
        if not self.running:
            try:
                self._finish_handed()
            except Exception:  # the caller's transaction is committed: its jobs send it
                logger.exception("sending what was handed over after the worker stopped failed")

    def run_forever(self) -> None:
        logger.info("worker %s started", self.name)
        self.running = True  # (start_thread sets it first: the thread may take a moment)
        try:
            self._loop()
        finally:
            self.running = False
            try:
                self._finish_handed()  # what was handed over meanwhile
            except Exception:  # their leases end, and their own jobs send them
                logger.exception("sending what was handed over failed")
        logger.info("worker %s stopped", self.name)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                handed = self._finish_handed()
                due_now, self._due_now = self._due_now, False
                wait = 0.0 if due_now else self._seconds_until_due(read=not handed)
                if wait <= 0:  # something is due: run it, then look again at once
                    taken = run_due(
                        factory=self.factory,
                        clock=self.clock,
                        handlers=self.handlers,
                        name=self.name,
                        between=self._finish_handed,  # long passes hold up no handed work
                    )
                    wait = self.poll_seconds if taken == 0 else 0  # 0: others hold them
                    self._due_read = None  # what was due ran: read again next time
            except Exception:  # the database may be briefly away; keep going
                logger.exception("worker pass failed")
                wait = self.poll_seconds
            if wait > 0 and not self._handed:
                self.wakeup.wait(min(wait, self.poll_seconds))
            self.wakeup.clear()

    def _finish_handed(self) -> bool:
        """Send what was handed over, and record it; whether there was any. Work handed over
        so long ago that its leases may end while it is sent is dropped: its deliveries' own
        jobs send it then, and sending it here too could send it twice."""
        handed: list[tuple[tuple[int, int], Outside]] = []
        stale = time.monotonic() - HANDED_FOR_AT_MOST
        while self._handed:
            at, work = self._handed.popleft()
            if at < stale:
                logger.warning(
                    "work handed over %.0f s ago left to its jobs", time.monotonic() - at
                )
                continue
            handed.append(((0, 0), work))  # done_first: no job of its own
        if handed:
            _finish_outside(factory=self.factory, clock=self.clock, outside=handed, me=self.name)
        return bool(handed)

    def _seconds_until_due(self, *, read: bool = True) -> float:
        """How long until the next job is due (0 when one is due), read without locking.
        With ``read`` false (handed work was done, which only finishes jobs), a reading
        less than ``poll_seconds`` old that found no job due yet is used, and the wait
        ends when it is that old: a job committed meanwhile without waking the worker
        (``due_now``) waits no longer than it would for a poll."""
        now = time.monotonic()
        cached = self._due_read
        if (
            read
            or cached is None
            or now - cached[0] >= self.poll_seconds
            or (cached[1] is not None and cached[1] <= self.clock.now())
        ):
            with transaction(self.read_factory) as session:
                cached = (now, jobs.next_due_at(session=session))
            self._due_read = cached
        read_at, due = cached
        fresh_for = read_at + self.poll_seconds - now
        if due is None:
            return fresh_for
        return min((due - self.clock.now()).total_seconds(), fresh_for)

    def start_thread(self) -> threading.Thread:
        self.running = True  # work may be handed over from now on
        thread = threading.Thread(target=self.run_forever, name="warroom-worker", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()
