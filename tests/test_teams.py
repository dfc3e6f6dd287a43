"""Teams: created, listed and replaced through the API and CLI; an escalation level that
targets a team pages its schedule's on-call, or every member (real receiver on
127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
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
DBA_ROTATION = {
    "name": "dba-rotation",
    "timezone": "UTC",
    "layers": [
        {
            "name": "weekly",
            "rotation": "weekly",
            "start": "2026-01-05",
            "participants": ["ben@example.com"],
        }
    ],
}


class Api:
    def __init__(self, runtime: Runtime, client: TestClient, token: str, receiver: Receiver):
        self.runtime, self.client, self.receiver = runtime, client, receiver
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.headers, json=body)

    def names(self, team: dict[str, Any]) -> list[str]:
        return [m["name"] for m in team["members"]]

    def paged(self) -> list[str]:
        return sorted(e["data"]["person"]["name"] for e in self.receiver.events())


@pytest.fixture
def api(settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path) -> Iterator[Api]:
    clock.set(START)
    path = channels_file(tmp_path, receiver.url, events=["incident.page"])
    with app_with(settings, clock, path) as (runtime, client, token):
        setup = Api(runtime, client, token, receiver)
        for name in ("ana", "ben", "cy"):
            body = {"name": name.title(), "email": f"{name}@example.com"}
            assert setup.call("POST", "/people", body).status_code == 201
        assert setup.call("POST", "/schedules", DBA_ROTATION).status_code == 201
        yield setup


def test_teams_are_created_listed_and_replaced(api: Api) -> None:
    body = {"name": "dba", "members": ["ana@example.com", "Ben", "ben@example.com"]}
    created = api.call("POST", "/teams", body)
    assert created.status_code == 201, created.text
    team = created.json()
    assert api.names(team) == ["Ana", "Ben"]  # once each
    assert team["schedule"] is None

    replaced = api.call(
        "PUT",
        f"/teams/{team['id']}",
        {"name": "dba", "members": ["Cy"], "schedule": "dba-rotation"},
    )
    assert replaced.status_code == 200, replaced.text
    assert api.names(replaced.json()) == ["Cy"]
    assert replaced.json()["schedule"]["name"] == "dba-rotation"
    assert [t["name"] for t in api.call("GET", "/teams").json()] == ["dba"]
    assert api.call("GET", f"/teams/{team['id']}").json() == replaced.json()


def test_bad_teams_are_refused_naming_the_field_and_nothing_is_written(api: Api) -> None:
    assert api.call("POST", "/teams", {"name": "dba", "members": ["Ana"]}).status_code == 201
    for body, status, field in (
        ({"name": "net", "members": ["Ana", "Zed"]}, 422, "members[1]"),
        ({"name": "net", "schedule": "nope"}, 422, "schedule"),
        ({"name": "dba"}, 409, "name"),
        ({"name": ""}, 422, "name"),
    ):
        response = api.call("POST", "/teams", body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["details"]["field"] == field
    assert [t["name"] for t in api.call("GET", "/teams").json()] == ["dba"]
    assert api.call("GET", "/teams/999").status_code == 404


def escalate_to(api: Api, team: str) -> None:
    policy = {"name": f"to-{team}", "levels": [{"targets": [{"team": team}], "timeout": "5m"}]}
    assert api.call("POST", "/escalation-policies", policy).status_code == 201
    body = {"title": "DB slow", "severity": "P2", "escalation_policy": f"to-{team}"}
    assert api.call("POST", "/incidents", body).status_code == 201
    drain(api.runtime)


def test_a_team_without_a_schedule_pages_every_member(api: Api) -> None:
    api.call("POST", "/teams", {"name": "dba", "members": ["Ana", "Cy"]})
    escalate_to(api, "dba")
    assert api.paged() == ["Ana", "Cy"]


def test_a_team_with_a_schedule_pages_whoever_is_on_call(api: Api) -> None:
    body = {"name": "dba", "members": ["Ana", "Cy"], "schedule": "dba-rotation"}
    api.call("POST", "/teams", body)
    escalate_to(api, "dba")
    assert api.paged() == ["Ben"]


def test_policies_naming_an_unknown_team_or_two_targets_are_refused(api: Api) -> None:
    for target, field in (
        ({"team": "ghosts"}, "levels[0].targets[0].team"),
        ({"team": "dba", "person": "Ana"}, "levels[0].targets[0]"),
    ):
        policy = {"name": "p", "levels": [{"targets": [target], "timeout": "5m"}]}
        response = api.call("POST", "/escalation-policies", policy)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"]["field"] == field
    assert api.call("GET", "/escalation-policies").json() == []


def test_the_cli_creates_and_lists_teams(cli: Cli) -> None:
    for name in ("Ana", "Ben"):
        assert cli("people", "add", "--name", name).code == 0
    result = cli("team", "create", "--name", "dba", "--member", "Ana", "--member", "Ben")
    assert result.code == 0, result.err
    assert "dba (every member: Ana, Ben)" in result.out
    listed = cli("team", "list")
    assert "dba" in listed.out
    assert "every member: Ana, Ben" in listed.out
    again = cli("team", "create", "--name", "dba", "--member", "Ben", "--replace")
    assert again.code == 0
    assert "every member: Ben" in again.out
    bad = cli("team", "create", "--name", "net", "--member", "Zed")
    assert bad.code != 0
    assert "members[0]" in bad.err
    assert len(bad.err.strip().splitlines()) == 1
    assert "net" not in cli("team", "list").out
