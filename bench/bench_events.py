"""What an incident's `incident.triggered` webhook costs the job worker, in-process: N P1
incidents declared on a fresh SQLite database with one webhook subscribed, then their jobs
run by `run_due` while a local receiver answers; prints the worker's time per incident and
the share of its parts (timed by wrapping them). See docs/performance.md.

Run:  .venv/bin/python bench/bench_events.py [N]      (N incidents, default 300)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import subscribed, time_parts

from warroom import migrate
from warroom.engine import events, worker
from warroom.incidents import service
from warroom.incidents.schemas import IncidentCreate
from warroom.jobs import service as jobs
from warroom.notify import outbox
from warroom.notify.webhook import WebhookChannel
from warroom.runtime import build_runtime

PARTS: list[tuple[Any, str, str]] = [
    (worker, "_run_together", "claimed jobs: queue the deliveries"),
    (events, "bodies", "  the events' bodies"),
    (outbox, "queue_many", "  queueing the deliveries"),
    (jobs, "claim_due", "claiming"),
    (worker, "_finish_outside", "after the commit: send, record"),
    (WebhookChannel, "send", "  the signed HTTP POST"),
    (jobs, "finish_leased_many", "  closing the deliveries' jobs"),
    (outbox, "settle_sent", "  recording the outcomes"),
]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    state, server, settings = subscribed("warroom-events-")
    runtime = build_runtime(settings)
    migrate.upgrade(runtime.engine)
    started = time.perf_counter()
    for i in range(count):
        with runtime.transaction() as session:
            service.declare(
                session=session,
                playbook=runtime.playbook,
                actor="bench",
                clock=runtime.clock,
                data=IncidentCreate(title=f"bench {i}", severity="P1"),
            )
    declared = time.perf_counter() - started
    spent = time_parts(PARTS)
    handlers = runtime.handlers()
    started = time.perf_counter()
    while worker.run_due(factory=runtime.factory, clock=runtime.clock, handlers=handlers):
        pass
    ran = time.perf_counter() - started
    server.shutdown()
    print(f"{count} P1 incidents, {len(state.requests)} webhooks received")
    print(f"declaring: {declared / count * 1000:.2f} ms an incident")
    print(f"the worker: {ran / count * 1000:.2f} ms an incident, of which")
    for _, _, label in PARTS:
        print(f"  {label:<40} {spent[label].wall / count * 1000:.2f} ms")


if __name__ == "__main__":
    main()
