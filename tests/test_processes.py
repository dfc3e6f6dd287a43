"""Real server and worker processes: crashes, restarts, concurrency."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from tests.procs import WARROOM, Server, wait_until, warroom_env
from warroom.auth import service as auth
from warroom.clock import SystemClock
from warroom.incidents import service
from warroom.incidents.models import TimelineEntry
from warroom.incidents.schemas import IncidentCreate
from warroom.jobs.models import Job
from warroom.runtime import build_runtime
from warroom.settings import Settings

pytestmark = pytest.mark.slow

FAST_PLAYBOOK = """
name: fast
severities:
  - {key: P1, name: High, criteria: [test], update_every: 1h}
severity_guide: {rules: [{when: {outage: complete}, severity: P1}], otherwise: P1}
incident_types: [{key: operational, name: Operational}, {key: security, name: Security}]
roles: [{key: incident-commander, name: Incident Commander, team: core,
         required_for: [operational, security]}]
phases:
  fast:
    - key: fast
      name: Fast
      window: {start: 0s, end: %ds}
      tasks: [{key: look, title: Look at it}]
plans: {operational: {P1: [fast]}, security: {P1: [fast]}}
"""


@pytest.fixture
def token(settings: Settings) -> str:
    engine = create_engine(settings.resolved_database_url())
    with Session(engine) as session, session.begin():
        _, secret = auth.create_token(
            session=session, name="proc", role="admin", now=SystemClock().now()
        )
    engine.dispose()
    return secret


def _entries(url: str, incident_id: int, kind: str) -> int:
    engine = create_engine(url)
    with Session(engine) as session:
        count = session.scalar(
            select(func.count())
            .select_from(TimelineEntry)
            .where(TimelineEntry.incident_id == incident_id, TimelineEntry.kind == kind)
        )
    engine.dispose()
    return int(count or 0)


def _job_status(url: str, kind: str) -> list[str]:
    engine = create_engine(url)
    with Session(engine) as session:
        statuses = list(session.scalars(select(Job.status).where(Job.kind == kind)))
    engine.dispose()
    return statuses


@pytest.fixture
def fast_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    playbook = tmp_path / "fast.yaml"
    playbook.write_text(FAST_PLAYBOOK % 4)
    return warroom_env(
        settings.resolved_database_url(), settings.data_dir, WARROOM_PLAYBOOK=str(playbook)
    )


def test_deadline_that_passes_while_killed_is_recorded_once_after_restart(
    settings: Settings, token: str, fast_env: dict[str, str], tmp_path: Path
) -> None:
    url = settings.resolved_database_url()
    server = Server(fast_env, tmp_path / "server.log")
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{server.url}/api/v1/incidents",
        headers=headers,
        json={"title": "Crash test", "severity": "P1"},
        timeout=10,
    )
    server.kill()
    assert created.status_code == 201, created.text
    incident = created.json()
    due = datetime.fromisoformat(incident["phases"][0]["due_at"])
    assert _job_status(url, "phase_due") == ["pending"], "killed too late to test a restart"
    while SystemClock().now() <= due:  # let the deadline pass while nothing runs
        time.sleep(0.2)
    assert _entries(url, incident["id"], "phase_overdue") == 0

    server = Server(fast_env, tmp_path / "server.log")
    try:
        wait_until(
            lambda: _job_status(url, "deliver") == ["done"],
            what="the overdue notification to be delivered",
        )
    finally:
        server.kill()
    assert _entries(url, incident["id"], "phase_overdue") == 1
    assert _entries(url, incident["id"], "notification_queued") == 1

    server = Server(fast_env, tmp_path / "server.log")  # a further restart adds nothing
    try:
        timeline = httpx.get(
            f"{server.url}/api/v1/incidents/{incident['id']}/timeline", headers=headers, timeout=10
        ).json()
        verify = httpx.get(
            f"{server.url}/api/v1/incidents/{incident['id']}/timeline/verify",
            headers=headers,
            timeout=10,
        ).json()
    finally:
        server.stop()
    assert [e["kind"] for e in timeline].count("phase_overdue") == 1
    assert verify["ok"] is True


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    env = warroom_env(settings.resolved_database_url(), settings.data_dir)
    srv = Server(env, tmp_path / "server.log")
    yield srv
    srv.stop()


def test_concurrent_writes_to_a_real_server_never_fail(
    server: Server, token: str, settings: Settings
) -> None:
    """HTTP writers and CLI processes at once: nothing fails with "database is locked"."""
    headers = {"Authorization": f"Bearer {token}"}
    env = warroom_env(settings.resolved_database_url(), settings.data_dir)
    cli_writers = [
        subprocess.Popen(
            [*WARROOM, "incident", "declare", "--title", f"from cli {i}", "--severity", "P3"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]

    def declare(i: int) -> int:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            response = client.post(
                "/api/v1/incidents", json={"title": f"load {i}", "severity": "P2"}
            )
            if response.status_code != 201:
                return response.status_code
            incident_id = response.json()["id"]
            note = client.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "x"})
            return note.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(declare, range(120)))
    cli_errors = [p.communicate(timeout=120)[1] for p in cli_writers]
    assert statuses == [201] * 120
    assert [p.returncode for p in cli_writers] == [0] * 4, cli_errors
    listing = httpx.get(
        f"{server.url}/api/v1/incidents", headers=headers, params={"limit": 1}, timeout=10
    ).json()
    assert listing["total"] == 124


def test_concurrent_acknowledgements_record_exactly_one(server: Server, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    incident = httpx.post(
        f"{server.url}/api/v1/incidents",
        headers=headers,
        timeout=10,
        json={"title": "race", "severity": "P1"},
    ).json()

    def ack(_: int) -> int:
        return httpx.post(
            f"{server.url}/api/v1/incidents/{incident['id']}/acknowledge",
            headers=headers,
            timeout=30,
        ).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(ack, range(12)))
    assert sorted(statuses) == [200] + [409] * 11
    timeline = httpx.get(
        f"{server.url}/api/v1/incidents/{incident['id']}/timeline", headers=headers, timeout=10
    ).json()
    assert [e["kind"] for e in timeline].count("acknowledged") == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_workers_on_postgresql_share_jobs_without_running_one_twice(
    settings: Settings, token: str, tmp_path: Path
) -> None:
    url = settings.resolved_database_url()
    playbook = tmp_path / "instant.yaml"
    playbook.write_text(FAST_PLAYBOOK % 1)
    env = warroom_env(url, settings.data_dir, WARROOM_PLAYBOOK=str(playbook))
    rt = build_runtime(settings.model_copy(update={"playbook": playbook}))
    with rt.transaction() as session:  # declare, then let the deadlines pass before any worker
        for i in range(60):
            service.declare(
                session=session,
                playbook=rt.playbook,
                actor="test",
                clock=rt.clock,
                data=IncidentCreate(title=f"w{i}", severity="P1"),
            )
    rt.engine.dispose()
    time.sleep(1.2)
    logs = [(tmp_path / f"worker{i}.log").open("wb") for i in range(3)]
    workers = [
        subprocess.Popen([*WARROOM, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        for log in logs
    ]
    try:
        wait_until(
            lambda: (
                set(_job_status(url, "phase_due")) == {"done"}
                and set(_job_status(url, "deliver")) == {"done"}
            ),
            what="every job to be done",
        )
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=10)
        for log in logs:
            log.close()
    engine = create_engine(url)
    with Session(engine) as session:
        overdue = session.execute(
            select(TimelineEntry.incident_id, func.count())
            .where(TimelineEntry.kind == "phase_overdue")
            .group_by(TimelineEntry.incident_id)
        ).all()
    engine.dispose()
    assert len(overdue) == 60
    assert {count for _, count in overdue} == {1}
