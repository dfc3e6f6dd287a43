"""Where a new incident's ingest pass goes: runs `bench_probe_path.py` with timers around the
parts of the pass (the CPU time of the ingesting thread, and wall time), and prints each
part's time per pass. Run it against two checkouts (`PYTHONPATH=<checkout>/src`) to compare
parts whose share is too small to tell in the pass's own figures. See docs/performance.md.

Run:  taskset -c 1 .venv/bin/python bench/bench_probe_parts.py [N]     (default 300)
"""

from __future__ import annotations

import functools
import runpy
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy.orm

from warroom import runtime
from warroom.alerts import ingester, integrations, journal, service, silences
from warroom.alerts.batch import Batch
from warroom.incidents import service as incidents

HERE = Path(__file__).resolve().parent
MAIN = threading.get_ident()  # the thread bench_probe_path ingests in
spent: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # calls, CPU, wall


def timed(owner: Any, attribute: str, label: str) -> None:
    """Wrap ``owner.attribute`` with timers counting under ``label`` (ingesting thread only)."""
    original = getattr(owner, attribute)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != MAIN:
            return original(*args, **kwargs)
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            part = spent[label]
            part[0] += 1
            part[1] += time.thread_time() - cpu
            part[2] += time.perf_counter() - wall

    setattr(owner, attribute, wrapper)


PASS = "the pass (Ingester._ingest_journal)"
PARTS = [
    (ingester.Ingester, "_ingest_journal", PASS),
    (journal.Mover, "take", "  taking the entry (Mover.take)"),
    (service, "ingest_entries", "  ingesting it (service.ingest_entries)"),
    (integrations, "by_ids", "    its integration (integrations.by_ids)"),
    (silences, "active", "    the silences in force (silences.active)"),
    (Batch, "load_firing", "    the firing alerts (Batch.load_firing)"),
    (incidents, "declare", "    declaring the incident (incidents.declare)"),
    (Batch, "write_changes", "    alerts changed (Batch.write_changes)"),
    (runtime, "run_queued_events", "  its event, fanned out (run_queued_events)"),
    (sqlalchemy.orm.Session, "flush", "  ORM flushes, all (Session.flush)"),
]


def main() -> None:
    for owner, attribute, label in PARTS:
        timed(owner, attribute, label)
    sys.argv = [str(HERE / "bench_probe_path.py"), *sys.argv[1:2]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    passes = spent[PASS][0]
    print(f"per pass ({passes:.0f} passes, the first ones included): calls, CPU ms, wall ms")
    for _, _, label in PARTS:
        calls, cpu, wall = spent[label]
        each = f"{calls / passes:5.2f} {cpu / passes * 1000:7.3f} {wall / passes * 1000:7.3f}"
        print(f"{label:48s} {each}")


if __name__ == "__main__":
    main()
