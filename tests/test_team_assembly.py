"""Team assembly: the playbook maps roles to on-call schedules; declaring fills the roles
the incident needs and summons the people (pages on a real receiver on 127.0.0.1); a role
is paged on demand from the API and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.apps import app_with
from tests.conftest import Cli
from tests.receivers import Receiver, channels_file, drain
from warroom.clock import FakeClock
from warroom.runtime import Runtime
from warroom.settings import Settings

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
ON_CALL = {  # schedule -> who is on it
    "devops-lead": "ana",
    "senior-developers": "ben",
    "product": "cy",
    "security": "dee",
    "database-administrators": "eve",
}


def schedule(name: str, who: str) -> dict[str, Any]:
    layer = {"name": "weekly", "rotation": "weekly", "start": "2026-01-05"}
    return {
        "name": name,
        "timezone": "Europe/Berlin",
        "layers": [{**layer, "participants": [f"{who}@example.com"]}],
    }


class Team:
    def __init__(self, runtime: Runtime, client: TestClient, token: str, clock: FakeClock):
        self.runtime, self.client, self.clock = runtime, client, clock
        self.headers = {"Authorization": f"Bearer {token}"}
        self.receiver: Receiver

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.headers, json=body)

    def declare(self, **extra: Any) -> dict[str, Any]:
        body = {"title": "Checkout down", "severity": "P1", **extra}
        response = self.call("POST", "/incidents", body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def timeline(self, incident_id: int) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/incidents/{incident_id}/timeline").json())

    def run(self, seconds: float = 0) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        drain(self.runtime)

    def summoned(self) -> list[tuple[str, str]]:
        """(person, role key) of every page the receiver got."""
        return [
            (e["data"]["person"]["name"], e["data"]["role"]["key"]) for e in self.receiver.events()
        ]


def roles_of(incident: dict[str, Any]) -> dict[str, str]:
    return {r["key"]: r["person"]["name"] for r in incident["roles"] if r["person"]}


@pytest.fixture
def team(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> Iterator[Team]:
    clock.set(START)
    path = channels_file(tmp_path, receiver.url, events=["incident.page"])
    with app_with(settings, clock, path) as (runtime, client, token):
        setup = Team(runtime, client, token, clock)
        setup.receiver = receiver
        for name in ("ana", "ben", "cy", "dee", "eve"):
            body = {"name": name.title(), "email": f"{name}@example.com"}
            assert setup.call("POST", "/people", body).status_code == 201
        yield setup


def add_schedules(team: Team, *names: str) -> None:
    for name in names or tuple(ON_CALL):
        response = team.call("POST", "/schedules", schedule(name, ON_CALL[name]))
        assert response.status_code == 201, response.text


def test_declaring_fills_the_core_roles_from_the_schedules_and_summons_them(team: Team) -> None:
    add_schedules(team)
    incident = team.declare()
    assert roles_of(incident) == {
        "incident-commander": "Ana",
        "technical-lead": "Ben",
        "communications-lead": "Cy",
    }
    team.run()
    assert sorted(team.summoned()) == [
        ("Ana", "incident-commander"),
        ("Ben", "technical-lead"),
        ("Cy", "communications-lead"),
    ]
    entries = team.timeline(incident["id"])
    assigned = [e for e in entries if e["kind"] == "role_assigned"]
    assert {(e["data"]["role"], e["data"]["schedule"], e["actor"]) for e in assigned} == {
        ("incident-commander", "devops-lead", "warroom"),
        ("technical-lead", "senior-developers", "warroom"),
        ("communications-lead", "product", "warroom"),
    }
    assert [e["kind"] for e in entries].count("summoned") == 3
    assert team.call("GET", f"/incidents/{incident['id']}/timeline/verify").json()["ok"]


def test_a_security_incident_also_gets_the_security_lead(team: Team) -> None:
    add_schedules(team)
    incident = team.declare(type="security", severity="P0")
    assert roles_of(incident)["security-lead"] == "Dee"
    team.run()
    assert ("Dee", "security-lead") in team.summoned()


def test_a_role_whose_schedule_is_missing_is_said_on_the_timeline(team: Team) -> None:
    add_schedules(team, "devops-lead", "senior-developers")
    incident = team.declare()
    assert set(roles_of(incident)) == {"incident-commander", "technical-lead"}
    unfilled = [e["data"] for e in team.timeline(incident["id"]) if e["kind"] == "role_unfilled"]
    assert unfilled == [
        {
            "role": "communications-lead",
            "role_name": "Communications Lead",
            "reason": "no schedule named 'product'",
        }
    ]


def test_without_any_of_the_schedules_nothing_is_assembled(team: Team) -> None:
    incident = team.declare()
    assert roles_of(incident) == {}
    assert [e["kind"] for e in team.timeline(incident["id"])] == ["declared", "phases_planned"]
    team.run()
    assert team.receiver.events() == []


def test_paging_an_extended_role_fills_it_from_its_schedule(team: Team) -> None:
    add_schedules(team, "database-administrators")
    incident = team.declare()
    body = {"role": "database ADMINISTRATOR"}
    response = team.call("POST", f"/incidents/{incident['id']}/page", body)
    assert response.status_code == 202, response.text
    assert response.json()["person"]["name"] == "Eve"
    assert response.json()["role"] == "database-administrator"
    team.run()
    assert team.summoned() == [("Eve", "database-administrator")]
    current = team.call("GET", f"/incidents/{incident['id']}").json()
    assert roles_of(current) == {"database-administrator": "Eve"}

    # a role someone holds pages the holder
    ben = next(p for p in team.call("GET", "/people").json() if p["name"] == "Ben")
    assign = {"person_id": ben["id"]}
    path = f"/incidents/{incident['id']}/roles/legal-counsel"
    assert team.call("PUT", path, assign).status_code == 200
    paged = team.call("POST", f"/incidents/{incident['id']}/page", {"role": "legal-counsel"})
    assert paged.json()["person"]["name"] == "Ben"
    team.run()
    assert team.summoned()[-1] == ("Ben", "legal-counsel")


def test_paging_a_role_nobody_can_fill_is_refused_and_changes_nothing(team: Team) -> None:
    incident = team.declare()
    before = team.timeline(incident["id"])
    for body, status, field in (
        ({"role": "Chief Vibes Officer"}, 404, "role"),
        ({"role": "Network Engineer"}, 409, "role"),  # its schedule does not exist
        ({"role": "Legal Counsel"}, 409, "role"),  # no schedule in the playbook, nobody holds it
        ({"role": ""}, 422, "role"),
    ):
        response = team.call("POST", f"/incidents/{incident['id']}/page", body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["details"]["field"] == field
    missing = team.call("POST", "/incidents/999/page", {"role": "legal-counsel"})
    assert missing.status_code == 404
    assert team.timeline(incident["id"]) == before
    team.run()
    assert team.receiver.events() == []


def test_a_summons_follows_the_rules_and_stops_once_the_incident_is_mitigated(
    team: Team,
) -> None:
    add_schedules(team)
    ana = next(p for p in team.call("GET", "/people").json() if p["name"] == "Ana")
    rules = {"rules": ["ops-events", "ops-events@5m"]}
    assert team.call("PUT", f"/people/{ana['id']}/notification-rules", rules).status_code == 200
    acknowledged = team.declare()
    mitigated = team.declare(title="Search down")
    team.run(60)
    for incident, action in ((acknowledged, "acknowledge"), (mitigated, "mitigate")):
        path = f"/incidents/{incident['id']}/{action}"
        assert team.call("POST", path, {}).status_code == 200
    team.run(600)
    ana_pages = [e for e in team.receiver.events() if e["data"]["person"]["name"] == "Ana"]
    by_incident = [e["data"]["incident"]["id"] for e in ana_pages]
    # acknowledged: still wanted in the role, so the 5-minute rule goes out; mitigated: not
    assert sorted(by_incident) == sorted([acknowledged["id"]] * 2 + [mitigated["id"]])
    ids = [e["id"] for e in ana_pages if e["data"]["incident"]["id"] == acknowledged["id"]]
    assert len(set(ids)) == 2  # the reminder on the same channel is an event of its own


def test_the_cli_pages_a_role(cli: Cli, team: Team) -> None:
    add_schedules(team, "database-administrators")
    incident = team.declare()
    result = cli("incident", "page", str(incident["id"]), "--role", "Database Administrator")
    assert result.code == 0, result.err
    assert f"paging Eve as Database Administrator for incident {incident['id']}" in result.out
    bad = cli("incident", "page", str(incident["id"]), "--role", "Wizard")
    assert bad.code != 0
    assert "unknown role 'Wizard'" in bad.err
    assert len(bad.err.strip().splitlines()) == 1
