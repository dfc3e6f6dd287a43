"""The event loop goes first: on Linux, a thread of the server that works with SQLite steps
aside, 2 ms at most, while the event loop waits for the processor that thread is using.

The server answers requests on one event loop and does its longer work (ingesting alerts,
running jobs, checkpoints) on other threads. When they share a processor, the kernel's
scheduler lets a running thread keep it until its next tick (4 ms at 250 Hz) even when the
event loop has been woken by a request: the request then waits that long before it is even
read. So every SQLite connection gets a progress handler (``attach``) that, on any thread
but the event loop's and at most every ``LOOK_EVERY_NS``, reads the event loop's state from
``/proc``: while it is runnable on this thread's processor, this thread gives it a turn (a
callback on the loop that wakes this thread once the loop has run what was ready), waiting
``MOST_WAIT_NS`` in a row at most. Unlike a lower priority for the other threads, nobody is
starved while holding a lock that the others need.

Elsewhere than on Linux (no ``/proc``), or before the event loop says it goes first
(``go_first``), the handler returns at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("warroom.loopfirst")
PROGRESS_OPS = 1000  # SQLite virtual machine instructions between two calls of the handler
LOOK_EVERY_NS = 300_000  # a thread looks at the event loop at most this often
MOST_WAIT_NS = 2_000_000  # in a row, at most: the thread's own work waits no longer
RUNNABLE = b"R"  # /proc/<pid>/task/<tid>/stat: running, or waiting for a processor


@dataclass(frozen=True)
class _Loop:
    tid: int  # the event loop's thread (its native id)
    stat: int  # an open file descriptor of its /proc stat
    events: asyncio.AbstractEventLoop  # the loop itself


_first: _Loop | None = None
_looked = threading.local()  # per thread: when it looked last (monotonic ns)


def go_first() -> Callable[[], None]:
    """Make the calling thread (the event loop's) the one that goes first; returns what
    undoes it. Nothing happens where ``/proc`` has no such file (not Linux)."""
    global _first
    tid = threading.get_native_id()
    try:
        stat = os.open(f"/proc/self/task/{tid}/stat", os.O_RDONLY)
    except OSError:
        return lambda: None
    loop = _Loop(tid, stat, asyncio.get_running_loop())
    _first = loop

    def undo() -> None:
        global _first
        if _first is loop:
            _first = None
        os.close(loop.stat)

    return undo


def attach(connection: sqlite3.Connection) -> None:
    """Have the threads that use this connection step aside for the event loop."""
    connection.set_progress_handler(_look, PROGRESS_OPS)


def _look() -> int:
    """SQLite's progress handler: 0 lets the statement go on. Never raises (an error would
    interrupt the statement)."""
    loop = _first
    if loop is None:
        return 0
    try:
        if threading.get_native_id() == loop.tid:
            return 0
        now = time.monotonic_ns()
        if now - getattr(_looked, "at", 0) < LOOK_EVERY_NS:
            return 0
        _looked.at = now
        waited = False
        until = now + MOST_WAIT_NS
        while _waits_for_this_processor(loop):
            left = until - time.monotonic_ns()
            if left <= 0:
                break
            turn = getattr(_looked, "turn", None)
            if turn is None:
                turn = _looked.turn = threading.Event()
            turn.clear()
            loop.events.call_soon_threadsafe(turn.set)
            turn.wait(left / 1e9)
            waited = True
        if waited:
            _looked.at = time.monotonic_ns()
    except Exception:  # the event loop ended meanwhile (its file closed), or /proc changed
        logger.debug("looking at the event loop failed", exc_info=True)
    return 0


def _waits_for_this_processor(loop: _Loop) -> bool:
    """Whether the event loop is runnable on the processor this thread runs on: then,
    since this thread is running, the event loop is waiting for it."""
    state, processor = _state(os.pread(loop.stat, 512, 0))
    if state != RUNNABLE:
        return False
    with open("/proc/thread-self/stat", "rb", buffering=0) as mine:
        return _state(mine.read(512))[1] == processor


def _state(stat: bytes) -> tuple[bytes, int]:
    """A thread's state and the processor it last ran on, from its /proc stat (the fields
    after the command name, which is in parentheses and may hold spaces)."""
    fields = stat[stat.rindex(b")") + 2 :].split()
    return fields[0], int(fields[36])
