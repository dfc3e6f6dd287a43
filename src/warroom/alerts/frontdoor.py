"""On SQLite, while a flood of hook requests keeps the event loop busy, ingesting stands aside
and leaves the processor to accepting, for at most ``MAX_HOLD_SECONDS``.

The event loop accepts (it stores each turn's requests in the journal) and the intake thread
ingests, in one process, and Python runs one thread at a time: under a flood the two take
turns, and the flood is accepted at about half the speed the event loop alone manages, so
that its senders wait longer. A flood cannot be told from a busy process by looking at the
event loop while ingesting runs (either way each gets its turn), only by leaving it the
processor and seeing whether it keeps it busy. So, before each chunk it ingests, the intake
thread looks at the CPU time of the event loop's thread since it last looked:

- If the event loop used at least ``HINT_SHARE`` of the time while a chunk was ingested, the
  intake thread stands aside for ``PROBE_SECONDS`` at a time and looks again after each.
  The first time tells nothing (the event loop catches up on what queued meanwhile).
- If the event loop then used at least ``BUSY_SHARE`` of each of the next
  ``FLOOD_LOOKS`` times, requests queue for it: a flood. The thread stands aside until
  ``QUIET_LOOKS`` looks in a row find the event loop below that (a single one may, when its
  commit waits for the disk), or ingesting has been held up for ``MAX_HOLD_SECONDS`` since
  the flood began; then it ingests, taking turns with accepting, until it has caught up.
  Only then may another flood hold it up.
- Once a look finds no flood, or a flood over, the thread ingests and does not stand aside
  again for ``PROBE_GAP_SECONDS``: a busy process that is not flooded loses at most
  ``(1 + FLOOD_LOOKS) * PROBE_SECONDS`` of ingesting that often.

So a burst is accepted as fast as the event loop can, and its alerts are ingested at most
``MAX_HOLD_SECONDS`` later than they would have been; the rest of the time ingesting runs
whenever something is stored. Where a thread's CPU time cannot be read, nothing stands aside.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

HINT_SHARE = 0.35  # the event loop's use of the processor, while ingesting, that makes us look
BUSY_SHARE = 0.8  # its use, while we stand aside, that means requests queue for it
PROBE_SECONDS = 0.004  # how long to stand aside before looking again
FLOOD_LOOKS = 2  # looks in a row, after the first, that must find it busy for a flood
QUIET_LOOKS = 3  # looks in a row that must find it below BUSY_SHARE for a flood to be over
PROBE_GAP_SECONDS = 0.25  # after a look that found no flood, or a flood over, before the next
MAX_HOLD_SECONDS = 2.0  # the longest floods hold ingesting up, until it has caught up


def _thread_cpu_clock() -> Callable[[], float] | None:
    """The CPU time of the calling thread, as a function any thread can call (None where the
    platform cannot tell)."""
    try:
        clock_id = time.pthread_getcpuclockid(threading.get_ident())
        time.clock_gettime(clock_id)
    except (AttributeError, OSError):
        return None
    return lambda: time.clock_gettime(clock_id)


class FrontDoor:
    """Whether a flood keeps the event loop busy; asked by the intake thread before each
    chunk it ingests. ``now`` and ``loop_cpu`` are for tests; by default the monotonic clock
    and the CPU time of the thread that last called ``watch_this_thread``."""

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.monotonic,
        loop_cpu: Callable[[], float] | None = None,
    ) -> None:
        self._now = now
        self._loop_cpu = loop_cpu
        self._watched: int | None = None  # the thread whose CPU time _loop_cpu reads
        self._seen: tuple[float, float] | None = None  # (time, its CPU time) at the last look
        self._aside = 0  # looks in a row before this one after which we stood aside
        self._busy_looks = 0  # of those, in a row up to this one, that found it busy
        self._quiet_looks = 0  # in a flood, looks in a row that found it below BUSY_SHARE
        self._look_again_at = -math.inf
        self._holding_since: float | None = None  # when the first flood of this backlog began

    def watch_this_thread(self) -> None:
        """Called on the event loop's thread each turn it stores requests: its CPU time is
        what the intake thread watches (the latest such thread's, if several)."""
        ident = threading.get_ident()
        if ident != self._watched:
            self._watched = ident
            self._loop_cpu = _thread_cpu_clock()
            self._seen = None

    def stand_aside(self) -> bool:
        """Whether the intake thread should leave the processor to the event loop for
        ``PROBE_SECONDS`` instead of ingesting now."""
        loop_cpu = self._loop_cpu
        if loop_cpu is None:
            return False
        try:
            now, used = self._now(), loop_cpu()
        except OSError:  # the watched thread ended
            self._loop_cpu = self._watched = None
            return False
        seen, self._seen = self._seen, (now, used)
        if seen is None:  # the first look: nothing to compare with
            return False
        share = (used - seen[1]) / (now - seen[0]) if now > seen[0] else 0.0
        aside, self._aside = self._aside, 0
        if self._holding_since is not None and now - self._holding_since >= MAX_HOLD_SECONDS:
            return False  # held up long enough: take turns with accepting until caught up
        if aside == 0:  # ingesting since the last look
            if share < HINT_SHARE or now < self._look_again_at:
                return False
            self._busy_looks = self._quiet_looks = 0
        elif aside > 1 and self._busy_looks < FLOOD_LOOKS:  # the first time aside tells nothing
            if share < BUSY_SHARE:
                return self._ingest(now)
            self._busy_looks += 1
            if self._busy_looks == FLOOD_LOOKS and self._holding_since is None:
                self._holding_since = now - FLOOD_LOOKS * PROBE_SECONDS
        elif aside > 1:  # a flood
            self._quiet_looks = 0 if share >= BUSY_SHARE else self._quiet_looks + 1
            if self._quiet_looks >= QUIET_LOOKS:
                return self._ingest(now)
        self._aside = aside + 1
        return True

    def _ingest(self, now: float) -> bool:
        self._look_again_at = now + PROBE_GAP_SECONDS
        return False

    @property
    def flooded(self) -> bool:
        """Whether the intake thread stands aside for a flood now (any thread may ask)."""
        return self._aside > 0 and self._busy_looks >= FLOOD_LOOKS

    def caught_up(self) -> None:
        """Nothing is left to ingest: the next flood may hold ingesting up again."""
        self._holding_since = None
