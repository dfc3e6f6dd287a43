"""Where a server's processor goes under a steady stream of lone alerts: a fresh `warroom serve`
on SQLite (pinned to CPU 1) takes `make bench-ingest`'s background load (one alert a request,
1,000 groups, 10% duplicates, paced at BENCH_RATE alerts/s from CPU 0) for BENCH_SECONDS.
Every second the CPU time of the server's event-loop thread and of its other threads (largest
first: the intake thread, then the checkpointer and the job worker) is printed, in percent of
one CPU. Then the means over seconds 2-9 (the stream's first ten seconds open its 1,000
groups: 750 incidents) and over second 13 on (every alert a repeat of a firing one), and
the sizes of the write-ahead logs (database and intake journal) at the end.

No webhook is subscribed, so opening an incident sends nothing. With `--ceiling raw` or
`--ceiling app` the server is `bench/ceiling_app.py` instead (plain ASGI, or a FastAPI route,
on the same uvicorn; storing nothing): what the stack alone costs at that rate.

Run:  .venv/bin/python bench/bench_steady.py [--ceiling raw|app]
      (environment: BENCH_RATE=2000 BENCH_SECONDS=20)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.common import alertmanager_hook
from ingest.load import background_main, free_port, wait_ready
from ingest.procs import Server, thread_cpu_seconds

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
SERVER_CPUS = {1}
LOAD_CPUS = {0}


def start_warroom(home: Path, port: int) -> tuple[Server, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env |= {
        "WARROOM_DATABASE_URL": f"sqlite:///{home / 'warroom.db'}",
        "WARROOM_DATA_DIR": str(home),
        "WARROOM_HOST": "127.0.0.1",
        "WARROOM_PORT": str(port),
    }
    path = alertmanager_hook(env, "steady")
    argv = [PYTHON, "-m", "warroom", "serve", "--port", str(port)]
    return Server("warroom", argv, env, SERVER_CPUS, home / "server.log"), path


def start_ceiling(home: Path, port: int, which: str) -> tuple[Server, str]:
    argv = [PYTHON, "-m", "uvicorn", "--app-dir", str(BENCH), f"ceiling_app:{which}"]
    argv += ["--port", str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log"]
    server = Server("ceiling", argv, dict(os.environ), SERVER_CPUS, home / "server.log")
    return server, "/hooks/alertmanager/ceiling"


def start_load(port: int, path: str, tag: str, rate: int, seconds: float) -> tuple[Any, Any, Any]:
    """The benchmark's background load (one alert a request, 1,000 groups, 10% duplicates) at
    ``rate`` alerts/s on LOAD_CPUS, for at most ``seconds``, once it has started: (its
    process, the event that stops it, the queue of its figures)."""
    ctx = mp.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    load = ctx.Process(
        target=background_main,
        args=(port, path, "webhook", (tag, 1000, 0.1), rate, 1, (ready, stop), out, seconds),
    )
    load.start()
    assert load.pid is not None
    os.sched_setaffinity(load.pid, LOAD_CPUS)
    if not ready.wait(30):
        raise SystemExit("the load did not start")
    return load, stop, out


def mean_of(rows: list[tuple[float, list[float]]]) -> str:
    if not rows:
        return "(none)"
    loop = sum(r[0] for r in rows) / len(rows)
    others = [sum(r[1][i] if len(r[1]) > i else 0 for r in rows) / len(rows) for i in range(3)]
    return f"event loop {loop:.1f}%, other threads {' · '.join(f'{o:.1f}%' for o in others)}"


def wal_sizes(home: Path) -> str:
    """The sizes of the database's and the intake journal's write-ahead logs."""
    sizes = []
    for name in ("warroom.db-wal", "warroom.db-intake-wal"):
        path = home / name
        size = path.stat().st_size / 1e6 if path.exists() else 0.0
        sizes.append(f"{name} {size:,.1f} MB")
    return ", ".join(sizes)


def main() -> None:
    rate = int(os.environ.get("BENCH_RATE", "2000"))
    seconds = int(os.environ.get("BENCH_SECONDS", "20"))
    ceiling = sys.argv[2] if sys.argv[1:2] == ["--ceiling"] and len(sys.argv) > 2 else None
    home = Path(tempfile.mkdtemp(prefix="warroom-steady-"))
    port = free_port()
    server, path = start_ceiling(home, port, ceiling) if ceiling else start_warroom(home, port)
    try:
        wait_ready(port, "/healthz", server)
        load, stop, out = start_load(port, path, "steady", rate, seconds)
        rows: list[tuple[float, list[float]]] = []
        before, started = thread_cpu_seconds(server.pid), time.monotonic()
        for second in range(1, seconds + 1):
            time.sleep(max(0.0, started + second - time.monotonic()))
            now = thread_cpu_seconds(server.pid)
            used = {t: (v - before.get(t, 0.0)) * 100 for t, v in now.items()}
            loop = used.pop(server.pid, 0.0)
            others = sorted(used.values(), reverse=True)
            rows.append((loop, others))
            shown = " · ".join(f"{o:.0f}%" for o in others[:3])
            print(f"{second:3d} s  event loop {loop:3.0f}%  other threads {shown}", flush=True)
            before = now
        stop.set()
        figures = out.get(timeout=30)
        load.join(timeout=10)
        taken = figures["alerts"] / max(figures["elapsed"], 1e-9)
        print(f"load taken: {taken:,.0f} alerts/s (asked {rate:,}/s), errors {figures['errors']}")
        print(f"mean, seconds 2-9 (new groups):  {mean_of(rows[1:9])}")
        print(f"mean, seconds 13+ (repeats):     {mean_of(rows[12:])}")
        if not ceiling:
            print(f"write-ahead logs at the end: {wal_sizes(home)}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
