"""What the benchmark scripts share: a free loopback port, a percentile, and a warroom
whose webhook a local receiver takes."""

from __future__ import annotations

import socket
import tempfile
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
