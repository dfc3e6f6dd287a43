"""Paging end to end on a real `warroom serve` (its own worker) with a recording webhook
receiver on 127.0.0.1: without an acknowledgement each level is paged at its time; the
link in a page acknowledges and nothing is paged after it; resolving stops paging too.

Waits are not slept through: each pending escalation step is checked to be due exactly
one level timeout after its page, then made due now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from tests.procs import Server, wait_until, warroom_env
from tests.receivers import Receiver, channels_file
from warroom.auth import service as auth
from warroom.clock import SystemClock
from warroom.jobs.models import PENDING, Job
from warroom.paging.escalation import ESCALATE
from warroom.settings import Settings

POLICY = {
    "name": "devops",
    "levels": [
        {"targets": [{"person": "ana@example.com"}], "timeout": "1m"},
        {"targets": [{"person": "ben@example.com"}], "timeout": "2m"},
    ],
}


class Live:
    def __init__(self, server: Server, token: str, receiver: Receiver, database_url: str):
        self.server, self.receiver = server, receiver
        self.headers = {"Authorization": f"Bearer {token}"}
        self.engine = create_engine(database_url)

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        url = f"{self.server.url}/api/v1{path}"
        return httpx.request(method, url, headers=self.headers, json=body, timeout=10)

    def declare(self) -> int:
        body = {"title": "Checkout down", "severity": "P1", "escalation_policy": "devops"}
        response = self.call("POST", "/incidents", body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def paged(self, incident_id: int) -> list[str]:
        return [
            e["data"]["person"]["name"]
            for e in self.receiver.events()
            if e["type"] == "incident.page" and e["data"]["incident"]["id"] == incident_id
        ]

    def wait_for_pages(self, incident_id: int, count: int) -> None:
        wait_until(lambda: len(self.paged(incident_id)) >= count, what=f"{count} page(s)")

    def page_time(self, incident_id: int, level: int) -> datetime:
        entries = self.call("GET", f"/incidents/{incident_id}/timeline").json()
        paged = [e for e in entries if e["kind"] == "paged" and e["data"]["level"] == level]
        return datetime.fromisoformat(paged[0]["at"])

    def next_step(self, incident_id: int) -> datetime | None:
        """When the incident's pending escalation step is due (None: no step pending)."""
        escalations = self.call("GET", f"/incidents/{incident_id}/escalations").json()
        with Session(self.engine) as session:
            due = session.scalar(
                select(Job.due_at).where(
                    Job.kind == ESCALATE,
                    Job.status == PENDING,
                    Job.subject == f"escalation:{escalations[0]['id']}",
                )
            )
        return due.replace(tzinfo=UTC) if due is not None and due.tzinfo is None else due

    def skip_wait(self, incident_id: int) -> None:
        escalations = self.call("GET", f"/incidents/{incident_id}/escalations").json()
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(Job)
                .where(Job.subject == f"escalation:{escalations[0]['id']}")
                .where(Job.status == PENDING)
                .values(due_at=SystemClock().now())
            )

    def escalation_status(self, incident_id: int) -> str:
        return str(self.call("GET", f"/incidents/{incident_id}/escalations").json()[0]["status"])


@pytest.fixture
def live(settings: Settings, receiver: Receiver, tmp_path: Path) -> Iterator[Live]:
    url = settings.resolved_database_url()
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        _, token = auth.create_token(
            session=session, name="e2e", role="admin", now=SystemClock().now()
        )
    engine.dispose()
    channels = channels_file(tmp_path, receiver.url, events=["incident.page"])
    env = warroom_env(url, settings.data_dir, WARROOM_CHANNELS_FILE=str(channels))
    server = Server(env, tmp_path / "server.log")
    setup = Live(server, token, receiver, url)
    try:
        for name in ("ana", "ben"):
            body = {"name": name.title(), "email": f"{name}@example.com"}
            assert setup.call("POST", "/people", body).status_code == 201
        assert setup.call("POST", "/escalation-policies", POLICY).status_code == 201
        yield setup
    finally:
        server.stop()
        setup.engine.dispose()


def test_without_an_acknowledgement_each_level_is_paged_at_its_time(live: Live) -> None:
    incident = live.declare()
    live.wait_for_pages(incident, 1)
    assert live.paged(incident) == ["Ana"]
    assert live.next_step(incident) == live.page_time(incident, 0) + timedelta(minutes=1)
    live.skip_wait(incident)
    live.wait_for_pages(incident, 2)
    assert live.paged(incident) == ["Ana", "Ben"]
    assert live.next_step(incident) == live.page_time(incident, 1) + timedelta(minutes=2)
    live.skip_wait(incident)
    wait_until(lambda: live.escalation_status(incident) == "ended", what="the escalation to end")
    assert live.paged(incident) == ["Ana", "Ben"]
    kinds = [e["kind"] for e in live.call("GET", f"/incidents/{incident}/timeline").json()]
    assert kinds.count("paged") == 2
    assert "escalation_exhausted" in kinds


def test_the_link_in_the_page_acknowledges_and_nothing_is_paged_after_it(live: Live) -> None:
    incident = live.declare()
    live.wait_for_pages(incident, 1)
    [event] = [e for e in live.receiver.events() if e["data"]["incident"]["id"] == incident]
    link = str(event["data"]["acknowledge_link"])
    assert link.startswith(live.server.url + "/ack/")
    assert httpx.get(link, timeout=10).status_code == 200
    done = httpx.post(link, timeout=10)
    assert done.status_code == 200
    assert "Acknowledged" in done.text
    live.skip_wait(incident)  # the step that would page Ben runs now, and pages nobody
    wait_until(lambda: live.escalation_status(incident) == "ended", what="the escalation to end")
    assert live.next_step(incident) is None
    assert live.paged(incident) == ["Ana"]
    state = live.call("GET", f"/incidents/{incident}").json()
    assert state["status"] == "acknowledged"


def test_resolving_stops_the_paging(live: Live) -> None:
    incident = live.declare()
    live.wait_for_pages(incident, 1)
    assert live.call("POST", f"/incidents/{incident}/resolve", {}).status_code == 200
    live.skip_wait(incident)
    wait_until(lambda: live.escalation_status(incident) == "ended", what="the escalation to end")
    assert live.paged(incident) == ["Ana"]
