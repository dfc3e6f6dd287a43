"""What accepting one Alertmanager webhook costs, in-process, without uvicorn: the app's
hook (`WarroomApp`) is called as uvicorn calls it, with the alert stream of
`make bench-ingest` (one alert a request, as at batch 1), one request at a time, so each is
stored in the intake journal with a commit of its own; or, with a second argument K, K
requests at a time, so that K are stored with one commit, as under a flood. Ingesting is
left out: the intake thread is not woken. Prints the time per request (the first 200 not
counted), then how long telling the intake's state takes with all of them pending (what
`GET /api/v1/alerts/intake` and `warroom alert intake` read; the mean of 50). See
docs/performance.md.

Run:  taskset -c 1 .venv/bin/python bench/bench_accept.py [N [K]]     (default 5,000 and 1)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest.alerts import alert_stream, body_for

from warroom.alerts import integrations, journal
from warroom.runtime import build_runtime
from warroom.settings import Settings
from warroom.web.app import create_app

WARMUP = 200


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    together = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    home = Path(tempfile.mkdtemp(prefix="warroom-accept-"))
    settings = Settings(
        database_url=f"sqlite:///{home / 'warroom.db'}", data_dir=home / "data", worker=False
    )
    runtime = build_runtime(settings)
    runtime.prepare_database()
    with runtime.transaction() as session:
        made = integrations.create(
            session=session,
            name="accept",
            kind="alertmanager",
            auth_token=None,
            now=runtime.clock.now(),
        )
        path = integrations.url_path(made)
    app = create_app(runtime, run_worker=False)
    app.state.intake._wake_ingest = lambda: None  # accepting only: nothing is ingested
    bodies = [body_for("webhook", [a]) for a in alert_stream("accept", count + WARMUP, 1000, 0.1)]

    async def post(body: bytes) -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "query_string": b"",
            "headers": [(b"content-length", str(len(body)).encode())],
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop()

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0]["status"] != 202:
            raise SystemExit(f"the hook answered {sent[0]}")

    async def run() -> float:
        for body in bodies[:WARMUP]:
            await post(body)
        started = time.perf_counter()
        timed = bodies[WARMUP:]
        for first in range(0, len(timed), together):
            await asyncio.gather(*(post(body) for body in timed[first : first + together]))
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    how = "one at a time" if together == 1 else f"{together} at a time"
    print(f"{count:,} requests accepted {how}: {elapsed / count * 1e6:.1f} us a request")
    url = settings.resolved_database_url()

    def state() -> journal.State:
        with runtime.read() as session:
            return journal.state(session=session, url=url)

    pending = state().pending
    looks = 50
    started = time.perf_counter()
    for _ in range(looks):
        state()
    took = (time.perf_counter() - started) / looks
    print(f"the intake's state with {pending:,} requests pending: {took * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
