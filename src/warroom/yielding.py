"""The server's background threads step aside for its event loop between their statements.

In ``warroom serve`` the event loop (answering hook requests, sending the first notices of
alert groups) shares the process, and on a busy core the processor, with the intake thread
and the job worker. Linux lets a running thread keep the processor until its time slice ends
at a scheduler tick (4 ms at 250 Hz) before the event loop, woken by a request, runs:
``bench/bench_sched.py`` found slow requests waiting there most of their time. A thread
marked here calls ``sched_yield()`` before each SQL statement it runs: that gives the
processor to a thread ready to run (the event loop with a request), and the interpreter
lock with it; with none ready it costs a system call, about a microsecond. The threads keep
their priority, so they still get their share of the processor, and the locks they hold
are not held any longer than that.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from sqlalchemy import Engine, event

_marks = threading.local()


def mark_this_thread() -> None:
    """The calling thread steps aside before each statement (on an engine ``install``-ed)."""
    _marks.yields = True


def install(engine: Engine) -> None:
    """Marked threads step aside before each statement they run on ``engine``."""
    if sys.platform != "win32":  # (listening again changes nothing: SQLAlchemy keeps one)
        event.listen(engine, "before_cursor_execute", _step_aside)


def _step_aside(*_args: Any) -> None:
    if getattr(_marks, "yields", False):
        os.sched_yield()
