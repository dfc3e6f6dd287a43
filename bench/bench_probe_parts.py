"""Where a new incident's ingest pass goes: runs `bench_probe_path.py` with timers around the
parts of the pass (the CPU time of the ingesting thread, and wall time), and prints each
part's time per pass. Run it against two checkouts (`PYTHONPATH=<checkout>/src`) to compare
parts whose share is too small to tell in the pass's own figures. See docs/performance.md.

Run:  taskset -c 1 .venv/bin/python bench/bench_probe_parts.py [N]     (default 300)
"""

from __future__ import annotations

import runpy
import sys
import threading
from pathlib import Path

import sqlalchemy.orm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import time_parts

from warroom import runtime
from warroom.alerts import ingester, integrations, journal, service, silences
from warroom.alerts.batch import Batch
from warroom.incidents import service as incidents

HERE = Path(__file__).resolve().parent
MAIN = threading.get_ident()  # the thread bench_probe_path ingests in
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
    spent = time_parts(PARTS, thread=MAIN)
    sys.argv = [str(HERE / "bench_probe_path.py"), *sys.argv[1:2]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    passes = spent[PASS].calls
    print(f"per pass ({passes:.0f} passes, the first ones included): calls, CPU ms, wall ms")
    for _, _, label in PARTS:
        calls, cpu, wall = spent[label].calls, spent[label].cpu, spent[label].wall
        each = f"{calls / passes:5.2f} {cpu / passes * 1000:7.3f} {wall / passes * 1000:7.3f}"
        print(f"{label:48s} {each}")


if __name__ == "__main__":
    main()
