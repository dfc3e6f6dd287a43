"""Work handed to the job worker by a transaction of its process (a new incident's webhooks):
sent and recorded at once, and never at the cost of the jobs it runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from warroom.clock import Clock
from warroom.db import transaction
from warroom.engine.handlers import Outside
from warroom.engine.worker import Worker
from warroom.jobs import service as jobs
from warroom.runtime import Runtime

PROBE = "test-probe"


@pytest.fixture
def ran() -> threading.Event:
    return threading.Event()


@pytest.fixture
def worker(runtime: Runtime, ran: threading.Event) -> Iterator[Worker]:
    """A worker of its own (runtime.transaction does not wake it), polling every 0.2 s."""

    def probe(_session: Session, _payload: dict[str, Any], _clock: Clock) -> None:
        ran.set()

    running = Worker(
        factory=runtime.factory,
        read_factory=runtime.read_factory,
        clock=runtime.clock,
        handlers={**runtime.handlers(), PROBE: probe},
        poll_seconds=0.2,
    )
    thread = running.start_thread()
    yield running
    running.stop()
    thread.join(10)


def _handed(recorded: list[str], name: str, *, fails: bool = False) -> Outside:
    def record(_session: Session, outcome: Any, _clock: Clock, _me: str) -> None:
        if fails:
            raise RuntimeError("recording failed")
        recorded.append(outcome)

    return Outside(work=lambda: name, record=record, done_first=True)


def _wait_for(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.01)


def test_a_job_no_one_announced_runs_while_handed_work_keeps_coming(
    runtime: Runtime, worker: Worker, ran: threading.Event
) -> None:
    """After handed work the worker may skip reading when the next job is due; a job committed
    without a wake-up (as another process commits them) still runs, by the next poll."""
    recorded: list[str] = []
    stop = threading.Event()

    def feed() -> None:
        count = 0
        while not stop.is_set():
            count += 1
            worker.hand(_handed(recorded, f"work-{count}"))
            time.sleep(0.02)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        _wait_for(lambda: len(recorded) >= 5)
        now = runtime.clock.now()
        with transaction(runtime.factory) as session:  # no worker is woken
            jobs.schedule(
                session=session, kind=PROBE, subject="probe", key="p1", due_at=now, now=now
            )
        assert ran.wait(10), "the job did not run while handed work kept coming"
    finally:
        stop.set()
        feeder.join()


def test_handed_work_whose_record_fails_is_logged_and_the_next_is_recorded(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    recorded: list[str] = []
    with caplog.at_level(logging.ERROR, logger="warroom.engine"):
        worker.hand(_handed(recorded, "first", fails=True))
        _wait_for(lambda: "recording the outcome of its work failed" in caplog.text)
        worker.hand(_handed(recorded, "second"))
        _wait_for(lambda: recorded == ["second"])
    assert worker.running


def test_work_handed_after_the_worker_stopped_is_done_at_once_by_the_caller(
    runtime: Runtime,
) -> None:
    """A transaction that began while the worker ran may commit after it stopped: its work
    is done then, in the caller's thread, not left to wait for its jobs' leases."""
    recorded: list[str] = []
    worker = runtime.worker()
    thread = worker.start_thread()
    worker.stop()
    thread.join(10)  # its last look at what was handed is over
    assert not thread.is_alive()
    assert not worker.running
    worker.hand(_handed(recorded, "late"))
    assert recorded == ["late"]
    worker.hand(_handed(recorded, "later"))
    assert recorded == ["late", "later"]
