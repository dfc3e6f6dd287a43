"""What ingesting costs per transaction, in-process, without HTTP: one alert per transaction
through ``service.ingest_entries`` on a fresh SQLite database, for alerts that open an
incident, alerts that join an open one, and repeats (dedup). See docs/performance.md.

With --stream, instead: the alert stream of `make bench-ingest` (N alerts over 1,000 groups,
10% repeats, one alert per request as at batch 1), parsed and normalized as the Alertmanager
hook does, then ingested 100 requests to a transaction as the intake thread does, and then
once more (every alert then repeats a firing one: the background load of `make bench-ingest`
after its first ten seconds); prints the ingest's rate and its CPU time each time (no
HTTP, no accepting, no job worker). To compare two checkouts on a machine whose speed
moves, run both at once on the same CPU (``PYTHONPATH=<checkout>/src taskset -c 1 ...``,
one in the background) and compare their CPU times. BENCH_DATABASE_URL set to an empty
PostgreSQL database (created by hand first) runs it there.

Run:  .venv/bin/python bench/bench_ingest_parts.py [N]     (N alerts of each kind, 200)
      add --profile to print the cProfile of the opening ones
      .venv/bin/python bench/bench_ingest_parts.py --stream [N]   (N alerts, 20,000)
"""

from __future__ import annotations

import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

STREAM_CHUNK = 100  # requests per ingesting transaction, as the intake thread takes them


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    stream = "--stream" in sys.argv
    count = int(args[0]) if args else (20_000 if stream else 200)
    home = Path(tempfile.mkdtemp(prefix="warroom-parts-"))
    database = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{home / 'warroom.db'}"
    os.environ["WARROOM_DATABASE_URL"] = database
    os.environ["WARROOM_DATA_DIR"] = str(home)
    warroom = [sys.executable, "-m", "warroom"]
    subprocess.run([*warroom, "db", "upgrade"], check=True, capture_output=True)
    subprocess.run(
        [*warroom, "integration", "create", "--name", "parts", "--kind", "alertmanager"],
        check=True,
        capture_output=True,
    )
    from warroom.alerts import service
    from warroom.alerts.normalize import NormalizedAlert
    from warroom.runtime import build_runtime
    from warroom.settings import Settings

    runtime = build_runtime(Settings())
    with runtime.read() as session:
        integration_id = session.execute(text("SELECT max(id) FROM integrations")).scalar_one()
    if stream:
        ingest_stream(runtime, integration_id, count)
        return

    def ingest(fingerprint: str, group: str) -> None:
        alert = NormalizedAlert(
            fingerprint=fingerprint,
            status="firing",
            summary=f"parts {group}",
            source="alertmanager",
            labels={"alertname": group, "service": group, "severity": "critical"},
            annotations={},
        )
        entry = service.Entry(integration_id=integration_id, alerts=[alert])
        with runtime.transaction() as session:
            service.ingest_entries(
                session=session, playbook=runtime.playbook, entries=[entry], clock=runtime.clock
            )

    for name, fingerprint in (("opens an incident", "o"), ("joins it", "j"), ("repeat", "j")):
        started = time.perf_counter()
        for i in range(count):
            ingest(f"{fingerprint}{i}", f"g{i}")
        each = (time.perf_counter() - started) / count * 1000
        print(f"{name:>18}: {each:.2f} ms a transaction of one alert ({count})")
    if "--profile" in sys.argv:
        profile = cProfile.Profile()
        profile.enable()
        for i in range(count):
            ingest(f"p{i}", f"pg{i}")
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


def ingest_stream(runtime: Any, integration_id: int, count: int) -> None:
    """The benchmark's stream, ingested as the intake thread ingests it; prints its rate."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ingest.alerts import alert_stream, body_for

    from warroom.alerts import hooks, service
    from warroom.alerts.sources import alertmanager

    entries = []
    for alert in alert_stream("parts", count, 1000, 0.10):
        payload = hooks.parse(alertmanager.WebhookPayload, body_for("webhook", [alert]))
        alerts = alertmanager.normalize(payload, "alertmanager")
        entries.append(service.Entry(integration_id=integration_id, alerts=alerts))
    for time_through in ("first", "again (every alert a repeat of a firing one)"):
        started = time.perf_counter()
        cpu_started = time.thread_time()
        for start in range(0, len(entries), STREAM_CHUNK):
            with runtime.transaction() as session:
                service.ingest_entries(
                    session=session,
                    playbook=runtime.playbook,
                    entries=entries[start : start + STREAM_CHUNK],
                    clock=runtime.clock,
                )
        elapsed = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started
        with runtime.read() as session:
            opened = session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        print(
            f"{time_through}: {count:,} alerts ({opened:,} incidents open) ingested in "
            f"{elapsed:.2f} s: {count / elapsed:,.0f} alerts/s, "
            f"{elapsed / count * 1000:.3f} ms an alert; CPU time {cpu:.2f} s"
        )


if __name__ == "__main__":
    main()
