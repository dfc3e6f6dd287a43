"""What ingesting costs per transaction, in-process, without HTTP: one alert per transaction
through ``service.ingest_entries`` on a fresh SQLite database, for alerts that open an
incident, alerts that join an open one, and repeats (dedup). See docs/performance.md.

Run:  .venv/bin/python bench/bench_ingest_parts.py [N]     (N alerts of each kind, 200)
      add --profile to print the cProfile of the opening ones
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

from sqlalchemy import text


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 200
    home = Path(tempfile.mkdtemp(prefix="warroom-parts-"))
    os.environ.update(
        WARROOM_DATABASE_URL=f"sqlite:///{home / 'warroom.db'}",
        WARROOM_DATA_DIR=str(home),
    )
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
        integration_id = session.execute(text("SELECT id FROM integrations")).scalar_one()

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


if __name__ == "__main__":
    main()
