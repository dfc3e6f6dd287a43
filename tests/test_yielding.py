"""The intake thread and the job worker step aside (``sched_yield``) before each statement they
run, once ``warroom serve`` installs it on the engine; no other thread does, and nothing
steps aside where it is not installed. Both backends."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from warroom import yielding
from warroom.auth import service as auth
from warroom.runtime import Runtime
from warroom.web.app import create_app

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no sched_yield")

MARKED = {"warroom-intake", "warroom-worker"}


def _alert(name: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": name, "service": "api", "severity": "critical"},
        "annotations": {"summary": f"{name} is down"},
        "startsAt": "2026-12-07T10:00:00Z",
    }


def _open_an_incident(runtime: Runtime) -> None:
    """Through the app, with its job worker: an Alertmanager alert that opens an incident."""
    with runtime.transaction() as session:
        _, secret = auth.create_token(
            session=session, name="yielding", role="admin", now=runtime.clock.now()
        )
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(runtime, run_worker=True)) as client:
        made = client.post(
            "/api/v1/integrations", headers=headers, json={"name": "am", "kind": "alertmanager"}
        )
        assert made.status_code == 201, made.text
        hook = "/" + made.json()["url"].split("/", 3)[3]
        body = {"version": "4", "status": "firing", "alerts": [_alert("Yielding")]}
        assert client.post(hook, json=body).status_code == 202
        deadline = time.monotonic() + 30
        while not client.get("/api/v1/incidents", headers=headers).json()["items"]:
            assert time.monotonic() < deadline, "no incident was opened"
            time.sleep(0.01)


@pytest.fixture
def recorded(
    monkeypatch: pytest.MonkeyPatch, runtime: Runtime
) -> tuple[Counter[str], Counter[str]]:
    """(the threads that stepped aside, the threads that ran statements), by name."""
    steps: Counter[str] = Counter()
    statements: Counter[str] = Counter()
    lock = threading.Lock()

    def step() -> None:
        with lock:
            steps[threading.current_thread().name] += 1

    def ran(*_args: Any) -> None:
        with lock:
            statements[threading.current_thread().name] += 1

    monkeypatch.setattr(os, "sched_yield", step)
    event.listen(runtime.engine, "before_cursor_execute", ran)
    return steps, statements


def test_the_intake_and_the_worker_step_aside_before_each_of_their_statements(
    runtime: Runtime, recorded: tuple[Counter[str], Counter[str]]
) -> None:
    steps, statements = recorded
    yielding.install(runtime.engine)
    yielding.install(runtime.engine)  # as often as asked: once a statement all the same
    _open_an_incident(runtime)

    for name in MARKED:
        assert statements[name] > 0, f"{name} ran no statement"
        assert steps[name] == statements[name], name
    others = {name for name in statements if name not in MARKED}
    assert others, "the requests' statements ran elsewhere"
    assert not set(steps) - MARKED  # the event loop and the requests' threads never do


def test_nothing_steps_aside_where_it_is_not_installed(
    runtime: Runtime, recorded: tuple[Counter[str], Counter[str]]
) -> None:
    steps, statements = recorded
    _open_an_incident(runtime)
    assert statements["warroom-intake"] > 0
    assert not steps
