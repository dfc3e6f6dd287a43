"""What the benchmark scripts share: a free loopback port, a percentile, a warroom whose
webhook a local receiver takes, a database with an Alertmanager integration made by the
CLI, and timers wrapped around functions."""

from __future__ import annotations

import functools
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def subscribed(prefix: str) -> tuple[Any, Any, Any]:
    """A local webhook receiver, serving in a thread, and settings for a fresh SQLite
    warroom in a temporary directory whose webhook takes `incident.triggered` there (no
    worker started): (receiver state, its server, settings)."""
    from tests.receivers import channels_file, start_receiver

    from warroom.settings import Settings

    state, server = start_receiver()
    home = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(
        database_url=f"sqlite:///{home / 'warroom.db'}",
        data_dir=home / "data",
        channels_file=channels_file(home, state.url, events=["incident.triggered"]),
        worker=False,
    )
    return state, server, settings


def alertmanager_hook(env: dict[str, str], name: str) -> str:
    """Migrate the database the environment's WARROOM_DATABASE_URL names and make an
    Alertmanager integration there, with the CLI: the hook's path (/hooks/alertmanager/KEY)."""
    warroom = [sys.executable, "-m", "warroom"]
    subprocess.run([*warroom, "db", "upgrade"], env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*warroom, "integration", "create", "--name", name, "--kind", "alertmanager"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"/hooks/alertmanager/[^\s\"'<>]+", created)
    assert found, created
    return found.group(0)


@dataclass
class Spent:
    calls: int = 0
    cpu: float = 0.0  # seconds of the calling thread's CPU time
    wall: float = 0.0  # seconds


def time_parts(
    parts: Sequence[tuple[Any, str, str]], *, thread: int | None = None
) -> dict[str, Spent]:
    """Wrap each ``(owner, attribute, label)`` function with timers; what each label's calls
    spent, filled in as they run (only calls on ``thread``, when given)."""
    spent: dict[str, Spent] = defaultdict(Spent)
    for owner, attribute, label in parts:
        setattr(owner, attribute, _timed(getattr(owner, attribute), spent[label], thread))
    return spent


def _timed(function: Any, spent: Spent, thread: int | None) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if thread is not None and threading.get_ident() != thread:
            return function(*args, **kwargs)
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent.calls += 1
            spent.cpu += time.thread_time() - cpu
            spent.wall += time.perf_counter() - wall

    return wrapper
