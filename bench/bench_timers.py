"""Timers: how late does a worker fire jobs when 100,000 are pending, and how much CPU does
it use while idle?

Writes BENCH_TIMERS pending jobs (default 100,000) into a fresh SQLite database (or
BENCH_DATABASE_URL): BENCH_FIRING of them (default 1,000) fall due over the next
BENCH_WINDOW seconds (default 30), the rest over the following day. Then starts one
`warroom worker` process, waits for the window to pass, and prints the lateness of the
fired jobs (finished_at - due_at: p50, p99, max). Then, with only future jobs left, it
measures the idle worker's CPU use over BENCH_IDLE seconds (default 20).
Targets (issue 4): p99 lateness <= 500 ms; idle CPU < 2% of one core.

The jobs are `incident_event` jobs for an incident that does not exist: the handler looks
it up and does nothing, so the figure is the scheduler's own lateness.

Run:  .venv/bin/python bench/bench_timers.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from warroom import migrate
from warroom.db import create_db_engine, table_of
from warroom.jobs.models import DONE, PENDING, Job


def main() -> None:
    total = int(os.environ.get("BENCH_TIMERS", "100000"))
    firing = int(os.environ.get("BENCH_FIRING", "1000"))
    window = float(os.environ.get("BENCH_WINDOW", "30"))
    idle = float(os.environ.get("BENCH_IDLE", "20"))
    with tempfile.TemporaryDirectory(prefix="warroom-timers-") as tmp:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/warroom.db"
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        start = datetime.now(UTC) + timedelta(seconds=5)
        rows = []
        for i in range(total):
            if i < firing:
                due = start + timedelta(seconds=window * i / firing)
            else:
                due = start + timedelta(seconds=window + 60 + 86_400 * (i - firing) / total)
            rows.append(
                {
                    "kind": "incident_event",
                    "subject": f"bench:{i}",
                    "key": f"bench-timer:{i}",
                    "payload": {"incident_id": 0, "type": "incident.triggered", "seq": i},
                    "due_at": due,
                    "status": PENDING,
                    "attempts": 0,
                    "created_at": datetime.now(UTC),
                }
            )
        with engine.begin() as conn:
            for at in range(0, total, 5000):
                conn.execute(insert(table_of(Job)), rows[at : at + 5000])
        print(f"{total:,} pending jobs; {firing:,} fall due over {window:.0f} s", flush=True)
        env = dict(
            os.environ,
            WARROOM_DATABASE_URL=url,
            WARROOM_DATA_DIR=tmp,
            WARROOM_WORKER_POLL_SECONDS="0.5",
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "warroom", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + window + 3)
            with engine.connect() as conn:
                done = conn.execute(
                    select(Job.due_at, Job.finished_at).where(
                        Job.status == DONE, Job.kind == "incident_event"
                    )
                ).all()
            late = sorted((f - d).total_seconds() * 1000 for d, f in done if f and d)
            if late:
                p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
                print(
                    f"fired {len(late):,} of {firing:,}: lateness p50 "
                    f"{statistics.median(late):.1f} ms, p99 {p99:.1f} ms, max {late[-1]:.1f} ms "
                    f"(target p99 <= 500 ms)"
                )
            cpu0, wall0 = _cpu(worker.pid), time.monotonic()
            time.sleep(idle)
            share = (_cpu(worker.pid) - cpu0) / (time.monotonic() - wall0) * 100
            print(f"idle worker CPU over {idle:.0f} s: {share:.2f}% of one core (target < 2%)")
        finally:
            worker.terminate()
            worker.wait(timeout=10)
            engine.dispose()


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


if __name__ == "__main__":
    main()
