"""On SQLite, while a flood of hook requests keeps the process busy, ingesting stands aside
and leaves the processor to accepting, for at most ``MAX_HOLD_SECONDS``.

The event loop accepts (it stores each turn's requests in the journal) and the intake thread
ingests, in one process, and Python runs one thread at a time: under a flood the two take
turns, and the flood is accepted at about half the speed the event loop alone manages, so
that its senders wait longer. So before each chunk it ingests, the intake thread looks at
how much of the processor the rest of the process (the event loop, the job worker) used
since it last looked:

- At least ``HINT_SHARE``, while it was ingesting: it stands aside for ``PROBE_SECONDS``
  and looks again.
- At least ``BUSY_SHARE`` while it stood aside: the others had work for the whole
  processor, so requests queue. It keeps standing aside, looking every ``PROBE_SECONDS``,
  until ``QUIET_LOOKS`` looks in a row find the others' use below that (one may, when a
  commit waits for the disk), or ingesting has been held up for
  ``MAX_HOLD_SECONDS`` since the flood began. After that it ingests, taking turns with
  accepting, until it has caught up; only then may another flood hold it up.
- Less: it ingests, and does not stand aside to look again for ``PROBE_GAP_SECONDS``. A busy
  but not flooded process delays ingesting by one ``PROBE_SECONDS`` at most that often.

So a burst is accepted as fast as the event loop alone can, and its alerts are ingested at
most ``MAX_HOLD_SECONDS`` later than they would have been; the rest of the time ingesting
runs whenever something is stored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

HINT_SHARE = 0.35  # the others' use of the processor, while ingesting, that makes us look
BUSY_SHARE = 0.8  # their use, while we stood aside, that means they have work for all of it
PROBE_SECONDS = 0.004  # how long to stand aside before looking again
QUIET_LOOKS = 3  # looks in a row that must find them below it for a flood to be over
PROBE_GAP_SECONDS = 0.25  # after a look that found no flood, before the next
MAX_HOLD_SECONDS = 2.0  # the longest a flood holds ingesting up, until it has caught up


def _others_cpu() -> float:
    """The CPU time of the process's threads other than the calling one."""
    return time.process_time() - time.thread_time()


class FrontDoor:
    """Whether a flood keeps the rest of the process busy; asked by the intake thread before
    each chunk it ingests. ``now`` and ``others_cpu`` are for tests; by default the monotonic
    clock and the CPU time of the process's other threads."""

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.monotonic,
        others_cpu: Callable[[], float] = _others_cpu,
    ) -> None:
        self._now = now
        self._others_cpu = others_cpu
        self._seen: tuple[float, float] | None = None  # (time, others' CPU) at the last look
        self._probing = False  # stood aside since the last look
        self._look_again_at = -math.inf
        self._holding_since: float | None = None  # when the current flood began
        self._quiet_looks = 0  # looks in a row, in a flood, that found the others below BUSY_SHARE

    def stand_aside(self) -> bool:
        """Whether the intake thread should leave the processor to the rest of the process
        for ``PROBE_SECONDS`` instead of ingesting now."""
        now, used = self._now(), self._others_cpu()
        seen, self._seen = self._seen, (now, used)
        if seen is None:  # the first look: nothing to compare with
            return False
        then, used_then = seen
        share = (used - used_then) / (now - then) if now > then else 0.0
        probing, self._probing = self._probing, False
        if self._holding_since is not None and now - self._holding_since >= MAX_HOLD_SECONDS:
            return False  # held up long enough: take turns with accepting until caught up
        if probing:
            flood = self._holding_since is not None
            if share >= BUSY_SHARE or (flood and self._quiet_looks < QUIET_LOOKS - 1):
                # a flood, or one that paused for a moment (a commit waiting for the disk)
                self._quiet_looks = 0 if share >= BUSY_SHARE else self._quiet_looks + 1
                if not flood:
                    self._holding_since = then
                self._probing = True
                return True
            self._quiet_looks = 0
            if not flood:  # a busy process, not a flood: do not look again for a while
                self._look_again_at = now + PROBE_GAP_SECONDS
            return False
        if share >= HINT_SHARE and now >= self._look_again_at:
            self._probing = True
            return True
        return False

    def caught_up(self) -> None:
        """Nothing is left to ingest: the next flood may hold ingesting up again."""
        self._holding_since = None
