"""One alert's way from the intake journal to its incident's webhook, in-process, idle: a
probe alert (a group of its own, so it opens an incident) is stored in the journal as the
Alertmanager hook stores it, the intake's ingest pass is run in this thread, and the job
worker and the checkpointer run in theirs, as in `warroom serve`; a local receiver takes the
`incident.triggered` webhook. Prints, over N probes one after the other (the first 20 not
counted), the time from storing the probe to the webhook's arrival and the time of the
ingest pass (wall clock, and the CPU time of its thread). No HTTP in front, so it shows
what ingesting and notifying cost, not accepting. See docs/performance.md.

Run:  taskset -c 1 .venv/bin/python bench/bench_probe_path.py [N]     (default 300)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.common import alertmanager_hook, subscribed
from ingest.alerts import body_for, probe_alert

from warroom.alerts import journal
from warroom.alerts.backlog import Submission, Webhook
from warroom.alerts.ingester import Ingester
from warroom.runtime import build_runtime

WARMUP = 20
GAP_SECONDS = 0.005  # between probes: each finds the threads idle


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    state, server, settings = subscribed("warroom-probe-")
    env = {
        "WARROOM_DATABASE_URL": settings.database_url,
        "WARROOM_DATA_DIR": str(settings.data_dir),
        "PATH": "/usr/bin:/bin",
    }
    key = alertmanager_hook(env, "probe").rsplit("/", 1)[1]
    runtime = build_runtime(settings)
    worker = runtime.worker()
    worker.start_thread()
    assert runtime.checkpointer is not None
    runtime.checkpointer.start()
    path = journal.path_for(settings.resolved_database_url())
    assert path is not None
    appender = journal.Appender(path)
    ingester = Ingester(runtime)
    to_webhook: list[float] = []
    passes: list[float] = []
    pass_cpu: list[float] = []
    for number in range(count):
        body = body_for("webhook", [probe_alert("path", number)])
        submission = Submission(key=key, kind="alertmanager", token=None, webhook=Webhook(body, 1))
        before = len(state.requests)
        started = time.monotonic()
        cpu_started = time.thread_time()
        appender.append([submission], runtime.clock.now())
        ingester.ingest_next()
        ingested = time.monotonic()
        cpu = time.thread_time() - cpu_started
        while len(state.requests) == before and time.monotonic() - started < 10:
            time.sleep(0.0001)
        if len(state.requests) == before:
            raise SystemExit(f"probe {number}: no webhook within 10 s")
        ingester.ingest_next()  # the pass that finds nothing more, as the intake makes it
        if number >= WARMUP:
            to_webhook.append((state.arrived[-1] - started) * 1000)
            passes.append((ingested - started) * 1000)
            pass_cpu.append(cpu * 1000)
        time.sleep(GAP_SECONDS)
    worker.stop()
    runtime.checkpointer.stop()
    server.shutdown()
    to_webhook.sort()
    print(f"{len(to_webhook)} probes, each opening an incident; {len(state.requests)} webhooks")
    print(
        f"stored -> webhook arrived: p50 {statistics.median(to_webhook):.2f} ms, "
        f"p90 {to_webhook[int(len(to_webhook) * 0.9)]:.2f} ms, "
        f"p99 {to_webhook[int(len(to_webhook) * 0.99)]:.2f} ms"
    )
    print(
        f"the ingest pass (with storing): p50 {statistics.median(passes):.2f} ms, "
        f"its thread's CPU time p50 {statistics.median(pass_cpu):.2f} ms"
    )


if __name__ == "__main__":
    main()
