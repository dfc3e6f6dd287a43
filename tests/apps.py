"""An in-process app on a test database with the given channels, and an admin token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from warroom.auth import service as auth
from warroom.clock import FakeClock
from warroom.runtime import Runtime, build_runtime
from warroom.settings import Settings
from warroom.web.app import create_app


@contextmanager
def app_with(
    settings: Settings, clock: FakeClock, channels: Path | None, **more: Any
) -> Iterator[tuple[Runtime, TestClient, str]]:
    """The runtime (the job worker not running: tests drain it), a client, and an admin
    token; ``more`` are further settings (``base_url``...)."""
    updated = settings.model_copy(update={"channels_file": channels, **more})
    runtime = build_runtime(updated, clock=clock)
    runtime.prepare_database()
    with runtime.transaction() as session:
        _, token = auth.create_token(session=session, name="t", role="admin", now=clock.now())
    try:
        with TestClient(create_app(runtime, run_worker=False)) as client:
            yield runtime, client, token
    finally:
        runtime.engine.dispose()
