"""Escalation policies and paging, end to end with a fake clock and a real webhook receiver
on 127.0.0.1: each level paged at its time, nothing after an acknowledgement or a
resolution, policies snapshotted, stalled escalations found by the auditor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from tests.conftest import Cli
from tests.receivers import Receiver, channels_file, drain
from tests.web_session import sign_in
from warroom.alerts import integrations
from warroom.alerts import service as alerts
from warroom.alerts.normalize import NormalizedAlert
from warroom.auth import service as auth
from warroom.clock import FakeClock
from warroom.engine.worker import run_due
from warroom.jobs.models import Job
from warroom.paging import escalation
from warroom.paging.models import Escalation
from warroom.playbook.schema import AlertRoute
from warroom.runtime import Runtime, build_runtime
from warroom.settings import Settings
from warroom.web.app import create_app

START = datetime(2026, 1, 5, 12, tzinfo=UTC)  # a Monday, 13:00 in Berlin
SCHEDULE = {
    "name": "primary",
    "timezone": "Europe/Berlin",
    "layers": [
        {
            "name": "daily",
            "rotation": "daily",
            "start": "2026-01-01",
            "participants": ["ana@example.com", "ben@example.com"],
        }
    ],
}
POLICY = {
    "name": "devops",
    "repeat": 1,
    "levels": [
        {"targets": [{"schedule": "primary"}], "timeout": "5m"},
        {"targets": [{"person": "cy@example.com"}], "timeout": "10m"},
    ],
}


class Setup:
    def __init__(self, runtime: Runtime, client: TestClient, token: str, clock: FakeClock):
        self.runtime, self.client, self.clock = runtime, client, clock
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.post(f"/api/v1{path}", headers=self.headers, json=body)

    def get(self, path: str) -> Any:
        response = self.client.get(f"/api/v1{path}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def declare(self, **extra: Any) -> int:
        body = {"title": "Checkout down", "severity": "P1", "escalation_policy": "devops"}
        response = self.post("/incidents", {**body, **extra})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def run(self, minutes: float = 0) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        drain(self.runtime)

    def kinds(self, incident_id: int) -> list[str]:
        return [e["kind"] for e in self.get(f"/incidents/{incident_id}/timeline")]


def pages(receiver: Receiver) -> list[tuple[str, int, int]]:
    """(person, round, level) of every page received, in order."""
    found = []
    for event in receiver.events():
        assert event["type"] == "incident.page"
        data = event["data"]
        found.append(
            (data["person"]["name"], data["escalation"]["round"], data["escalation"]["level"])
        )
    return found


@pytest.fixture
def paging(
    settings: Settings,
    clock: FakeClock,
    receiver: Receiver,
    tmp_path: Path,
) -> Iterator[Setup]:
    clock.set(START)
    path = channels_file(tmp_path, receiver.url, events=["incident.page"])
    runtime = build_runtime(settings.model_copy(update={"channels_file": path}), clock=clock)
    runtime.prepare_database()
    with runtime.transaction() as session:
        _, token = auth.create_token(session=session, name="t", role="admin", now=clock.now())
    with TestClient(create_app(runtime, run_worker=False)) as client:
        setup = Setup(runtime, client, token, clock)
        for name in ("ana", "ben", "cy"):
            body = {"name": name.title(), "email": f"{name}@example.com"}
            assert setup.post("/people", body).status_code == 201
        assert setup.post("/schedules", SCHEDULE).status_code == 201
        assert setup.post("/escalation-policies", POLICY).status_code == 201
        yield setup
    runtime.engine.dispose()


def test_without_an_acknowledgement_every_level_is_paged_at_its_time(
    paging: Setup,
    receiver: Receiver,
) -> None:
    incident_id = paging.declare()
    paging.run()
    assert pages(receiver) == [("Ana", 0, 0)]  # Monday 2026-01-05 is the fifth shift since Thursday
    paging.run(minutes=4)
    assert len(pages(receiver)) == 1
    paging.run(minutes=1)
    assert pages(receiver)[1:] == [("Cy", 0, 1)]
    paging.run(minutes=10)
    assert pages(receiver)[2:] == [("Ana", 1, 0)]  # the second round
    paging.run(minutes=5)
    assert pages(receiver)[3:] == [("Cy", 1, 1)]
    paging.run(minutes=10)
    assert len(pages(receiver)) == 4
    kinds = paging.kinds(incident_id)
    assert kinds.count("paged") == 4
    assert kinds[-1] == "escalation_exhausted"
    [run] = paging.get(f"/incidents/{incident_id}/escalations")
    assert (run["status"], run["ended_because"], run["policy_name"]) == (
        "ended",
        "exhausted",
        "devops",
    )
    page = receiver.events()[0]["data"]
    assert page["person"]["email"] == "ana@example.com"
    assert page["incident"]["id"] == incident_id
    assert page["acknowledge"].endswith(f"/api/v1/incidents/{incident_id}/acknowledge")


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_after_an_acknowledgement_or_resolution_nobody_is_paged_again(
    paging: Setup,
    receiver: Receiver,
    action: str,
) -> None:
    incident_id = paging.declare()
    paging.run()
    assert paging.post(f"/incidents/{incident_id}/{action}", {}).status_code == 200
    for _ in range(6):
        paging.run(minutes=10)
    assert pages(receiver) == [("Ana", 0, 0)]
    [run] = paging.get(f"/incidents/{incident_id}/escalations")
    assert run["status"] == "ended"
    assert run["ended_because"] == ("acknowledged" if action == "acknowledge" else "resolved")


def test_an_acknowledgement_between_the_job_and_its_time_stops_the_next_page(
    paging: Setup,
    receiver: Receiver,
) -> None:
    """The level-2 step is already queued when the incident is acknowledged: it runs,
    sees the acknowledgement under the incident's lock, and pages nobody."""
    incident_id = paging.declare()
    paging.run(minutes=0)
    with paging.runtime.read() as session:
        pending = session.scalars(select(Job).where(Job.kind == escalation.ESCALATE)).all()
        assert [j.status for j in pending].count("pending") == 1
    paging.post(f"/incidents/{incident_id}/acknowledge", {})
    paging.run(minutes=5)
    assert len(pages(receiver)) == 1


def test_a_running_escalation_keeps_the_policy_it_started_with(
    paging: Setup,
    receiver: Receiver,
) -> None:
    paging.declare()
    changed = {
        **POLICY,
        "levels": [POLICY["levels"][0], {"targets": [{"person": "ana@example.com"}]}],
    }  # type: ignore[index]
    response = paging.client.put(
        "/api/v1/escalation-policies/1", headers=paging.headers, json=changed
    )
    assert response.status_code == 200, response.text
    paging.run()
    paging.run(minutes=5)
    assert [p[0] for p in pages(receiver)] == ["Ana", "Cy"]  # not Ben: the snapshot holds


def test_the_auditor_finds_an_escalation_with_no_step_pending_and_resumes_it(
    paging: Setup,
    receiver: Receiver,
) -> None:
    incident_id = paging.declare()
    paging.run()
    with paging.runtime.transaction() as session:  # a lost step, as a bug might lose it
        session.execute(delete(Job).where(Job.kind == escalation.ESCALATE))
    paging.run(minutes=30)
    assert len(pages(receiver)) == 1  # stalled: nothing would ever page again
    with paging.runtime.transaction() as session:
        now = paging.clock.now()
        escalation.schedule_audit(session=session, due=now, now=now)
    paging.run()
    assert "escalation_stalled" in paging.kinds(incident_id)
    assert pages(receiver)[1:] == [("Cy", 0, 1)]
    with paging.runtime.read() as session:
        audits = session.scalars(select(Job).where(Job.kind == escalation.AUDIT)).all()
        assert any(j.status == "pending" for j in audits)  # it runs again in a minute


def test_an_alert_route_names_the_policy_and_a_missing_one_is_said_loudly(
    paging: Setup,
    receiver: Receiver,
) -> None:
    runtime = paging.runtime
    routing = runtime.playbook.alert_routing
    routes = [
        AlertRoute(name="db", matchers=["service=db"], escalation="devops"),
        AlertRoute(name="web", matchers=["service=web"], escalation="no-such-policy"),
    ]
    runtime.playbook = runtime.playbook.model_copy(
        update={"alert_routing": routing.model_copy(update={"routes": routes})}
    )
    with runtime.transaction() as session:
        source = integrations.create(
            session=session, name="prom", kind="alertmanager", auth_token=None, now=START
        )
        result = alerts.ingest(
            session=session,
            playbook=runtime.playbook,
            integration=source,
            alerts=[
                NormalizedAlert(
                    "a", "firing", "DB down", "am", {"alertname": "Down", "service": "db"}
                ),
                NormalizedAlert(
                    "b", "firing", "Web down", "am", {"alertname": "Down", "service": "web"}
                ),
            ],
            clock=runtime.clock,
        )
    db_incident, web_incident = sorted(result.incidents)
    paging.run()
    assert pages(receiver) == [("Ana", 0, 0)]
    assert "escalation_started" in paging.kinds(db_incident)
    assert "escalation_failed" in paging.kinds(web_incident)
    assert paging.get(f"/incidents/{web_incident}/escalations") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"levels": [{"targets": [{"person": "nobody@example.com"}]}]},
            "levels[0].targets[0].person",
        ),
        ({"levels": [{"targets": [{"schedule": "nope"}]}]}, "levels[0].targets[0].schedule"),
        ({"levels": [{"targets": []}]}, "levels[0].targets"),
        (
            {"levels": [{"targets": [{"person": "1", "schedule": "primary"}]}]},
            "levels[0].targets[0]",
        ),
        ({"levels": [{"targets": [{"person": "1"}], "timeout": "10s"}]}, "levels[0].timeout"),
        ({"levels": []}, "levels"),
        ({"repeat": 10}, "repeat"),
        ({"name": "devops"}, "name"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(
    paging: Setup, change: dict[str, Any], field: str
) -> None:
    body = {**POLICY, "name": "other", **change}
    response = paging.post("/escalation-policies", body)
    assert response.status_code in (409, 422), response.text
    assert response.json()["error"]["details"]["field"] == field
    assert [p["name"] for p in paging.get("/escalation-policies")] == ["devops"]


def test_escalating_needs_a_known_policy_and_a_triggered_incident(paging: Setup) -> None:
    before = paging.get("/incidents")["total"]
    unknown = paging.post(
        "/incidents", {"title": "x", "severity": "P1", "escalation_policy": "nope"}
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["field"] == "escalation_policy"
    assert paging.get("/incidents")["total"] == before  # nothing written
    incident_id = paging.declare(escalation_policy=None)
    assert (
        paging.post(f"/incidents/{incident_id}/escalate", {"policy": "devops"}).status_code == 201
    )
    twice = paging.post(f"/incidents/{incident_id}/escalate", {"policy": "devops"})
    assert twice.status_code == 409
    paging.post(f"/incidents/{incident_id}/acknowledge", {})
    other = paging.declare(escalation_policy=None)
    paging.post(f"/incidents/{other}/acknowledge", {})
    late = paging.post(f"/incidents/{other}/escalate", {"policy": "devops"})
    assert late.status_code == 409
    assert (
        paging.client.post(
            f"/api/v1/incidents/{other}/escalate", json={"policy": "devops"}
        ).status_code
        == 401
    )
    with paging.runtime.read() as session:
        assert len(session.scalars(select(Escalation)).all()) == 1


POLICY_YAML = """
name: security
levels:
  - targets: [{person: cy@example.com}]
    timeout: 15m
  - targets: [{schedule: primary}, {person: ana@example.com}]
"""


def test_the_cli_creates_policies_and_escalates(
    settings: Settings, cli: Cli, tmp_path: Path, paging: Setup
) -> None:
    path = tmp_path / "security.yaml"
    path.write_text(POLICY_YAML)
    created = cli("policy", "create", str(path))
    assert created.code == 0, created.err
    assert "person Cy (wait 15 min)" in created.out
    listed = cli("policy", "list", "--json")
    assert [p["name"] for p in json.loads(listed.out)] == ["devops", "security"]
    declared = cli(
        "incident",
        "declare",
        "--title",
        "Breach",
        "--severity",
        "P0",
        "--escalate",
        "security",
        "--json",
    )
    assert declared.code == 0, declared.err
    bad = cli("incident", "declare", "--title", "x", "--severity", "P1", "--escalate", "nope")
    assert bad.code == 2
    assert "escalation_policy" in bad.err
    incident_id = paging.declare(escalation_policy=None)
    started = cli("incident", "escalate", str(incident_id), "--policy", "devops")
    assert started.code == 0, started.err
    assert f"started for incident {incident_id} (devops)" in started.out
    again = cli("incident", "escalate", str(incident_id), "--policy", "devops")
    assert again.code == 4


def test_a_page_queued_before_the_acknowledgement_is_not_sent_after_it(
    paging: Setup, receiver: Receiver
) -> None:
    incident_id = paging.declare()
    runtime = paging.runtime
    for _ in range(10):  # run jobs one at a time until the page is queued, not yet sent
        if paging.get(f"/deliveries?incident_id={incident_id}&status=queued")["total"]:
            break
        run_due(factory=runtime.factory, clock=runtime.clock, handlers=runtime.handlers(), limit=1)
    assert paging.post(f"/incidents/{incident_id}/acknowledge", {}).status_code == 200
    paging.run()
    assert receiver.requests == []
    queued = paging.get(f"/deliveries?incident_id={incident_id}&status=cancelled")
    assert queued["total"] == 2  # the console and the webhook copy of the one page
    assert {d["kind"] for d in queued["items"]} == {"page"}
    assert "acknowledged first" in queued["items"][0]["last_error"]


def test_acknowledging_in_the_web_room_stops_the_paging(paging: Setup, receiver: Receiver) -> None:
    incident_id = paging.declare()
    paging.run()
    csrf = sign_in(paging.client, paging.runtime, role="responder", email="ana.web@example.com")
    room = f"/incidents/{incident_id}"
    response = paging.client.post(f"{room}/act", data={"csrf": csrf, "action": "acknowledge"})
    assert response.status_code == 200
    for _ in range(6):
        paging.run(minutes=10)
    assert pages(receiver) == [("Ana", 0, 0)]
    [run] = paging.get(f"/incidents/{incident_id}/escalations")
    assert (run["status"], run["ended_because"]) == ("ended", "acknowledged")
