"""Group commit for alert hooks: one writer thread ingests every submission waiting, in one
transaction, and answers each request only after that transaction committed.

Idle, a submission is written at once; under load the requests that arrive while a batch is
being written share the next transaction, so the cost of a commit is spread over them. When
a shared transaction fails, each of its submissions is retried alone, so one bad request
never fails another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from dataclasses import dataclass

from warroom.alerts import service
from warroom.alerts.batch import IngestResult
from warroom.alerts.service import Outcome, Submission
from warroom.errors import WarroomError
from warroom.runtime import Runtime

logger = logging.getLogger("warroom.alerts")
MAX_BATCH_ALERTS = 5000  # alerts per shared transaction
IDLE_SECONDS = 5.0  # the writer thread ends after this long without work


@dataclass(frozen=True)
class _Waiting:
    submission: Submission
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[IngestResult]


class Intake:
    def __init__(self, runtime: Runtime, max_batch_alerts: int = MAX_BATCH_ALERTS) -> None:
        self.runtime = runtime
        self.max_batch_alerts = max_batch_alerts
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def submit(self, submission: Submission) -> IngestResult:
        """Ingest the submission; returns once it is committed (raises its WarroomError)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[IngestResult] = loop.create_future()
        self._queue.put(_Waiting(submission, loop, answer))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="warroom-intake", daemon=True
                )
                self._thread.start()
        return await answer

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            waiting = [first]
            alerts = len(first.submission.alerts)
            while alerts < self.max_batch_alerts:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                waiting.append(more)
                alerts += len(more.submission.alerts)
            self._write(waiting)

    def _write(self, waiting: list[_Waiting]) -> None:
        try:
            with self.runtime.transaction() as session:
                outcomes = service.ingest_many(
                    session=session,
                    playbook=self.runtime.playbook,
                    submissions=[w.submission for w in waiting],
                    clock=self.runtime.clock,
                )
        except Exception as exc:
            if len(waiting) > 1:
                for one in waiting:  # alone, so that one bad submission fails only itself
                    self._write([one])
                return
            if not isinstance(exc, WarroomError):
                logger.exception("ingesting alerts failed")
            _answer(waiting[0], exc)
            return
        for one, outcome in zip(waiting, outcomes, strict=True):
            _answer(one, outcome)


def _answer(waiting: _Waiting, outcome: Outcome | Exception) -> None:
    def settle() -> None:
        if waiting.answer.done():  # the client went away
            return
        if isinstance(outcome, Exception):
            waiting.answer.set_exception(outcome)
        else:
            waiting.answer.set_result(outcome)

    with contextlib.suppress(RuntimeError):  # a closed event loop: nobody waits any more
        waiting.loop.call_soon_threadsafe(settle)
