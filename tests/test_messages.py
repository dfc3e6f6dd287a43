"""Messages from the playbook's templates: filled from the incident and the values given,
refused when a placeholder has no value, sent on the channels asked (a real webhook
receiver on 127.0.0.1), or only shown with dry_run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.apps import app_with
from tests.conftest import Cli
from tests.receivers import SECRET, Receiver, drain
from warroom.clock import FakeClock
from warroom.runtime import Runtime
from warroom.settings import Settings

IMPACT = {"impact": "Checkout fails for 30% of users", "status_page": "https://status.example.com"}


class Api:
    def __init__(self, runtime: Runtime, client: TestClient, token: str, receiver: Receiver):
        self.runtime, self.client, self.receiver = runtime, client, receiver
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.headers, json=body)

    def send(self, incident: int, **body: Any) -> Any:
        return self.call("POST", f"/incidents/{incident}/messages", body)

    def kinds(self, incident: int) -> list[str]:
        return [e["kind"] for e in self.call("GET", f"/incidents/{incident}/timeline").json()]


def channels(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "channels.json"
    hook = {"name": "ops-events", "url": url, "secret": SECRET, "events": ["incident.resolved"]}
    mail = {"name": "ops-mail", "host": "127.0.0.1", "port": 9, "security": "none",
            "sender": "warroom@example.com"}  # fmt: skip
    path.write_text(json.dumps({"webhooks": [hook], "email": [mail]}))
    return path


@pytest.fixture
def api(settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path) -> Iterator[Api]:
    with app_with(settings, clock, channels(tmp_path, receiver.url)) as (runtime, client, token):
        setup = Api(runtime, client, token, receiver)
        person = setup.call("POST", "/people", {"name": "Ana Lima"}).json()
        incident = setup.call("POST", "/incidents", {"title": "Checkout down", "severity": "P1"})
        assert incident.status_code == 201
        path = "/incidents/1/roles/incident-commander"
        assert setup.call("PUT", path, {"person_id": person["id"]}).status_code == 200
        yield setup


def test_a_template_is_filled_from_the_incident_and_the_values_and_sent(api: Api) -> None:
    before = api.kinds(1)
    sent = api.send(1, template="internal-alert", channels=["ops-events"], values=IMPACT)
    assert sent.status_code == 202, sent.text
    text = sent.json()["text"]
    assert "Severity: P1" in text
    assert "Incident Commander: Ana Lima" in text
    assert "War Room: #inc-1-checkout-down" in text
    assert "Impact: Checkout fails for 30% of users" in text
    assert "Next Update: " in text  # P1's update cadence from the playbook
    assert api.kinds(1) == [*before, "message_queued"]
    drain(api.runtime)
    [event] = api.receiver.events()
    assert event["type"] == "incident.message"
    assert event["data"]["text"] == text
    assert event["data"]["template"] == "internal-alert"


def test_a_placeholder_without_a_value_refuses_the_send_naming_it(api: Api) -> None:
    before = api.kinds(1)
    refused = api.send(1, template="customer-notification", channels=["ops-events"])
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["details"]["field"] == "values.affected_services"
    assert "affected_services, eta, impact, status_page" in error["message"]
    assert api.kinds(1) == before
    drain(api.runtime)
    assert api.receiver.events() == []


def test_bad_requests_name_the_field_and_send_nothing(api: Api) -> None:
    for body, status, field in (
        ({"template": "nope", "channels": ["ops-events"]}, 404, "template"),
        (
            {"template": "internal-alert", "channels": ["pager"], "values": IMPACT},
            422,
            "channels[0]",
        ),
        ({"template": "internal-alert", "channels": ["ops-mail"], "values": IMPACT}, 422, "to"),
        ({"template": "internal-alert", "channels": []}, 422, "channels"),
    ):
        response = api.send(1, **body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["details"]["field"] == field
    assert "message_queued" not in api.kinds(1)
    assert api.send(99, template="internal-alert", channels=["ops-events"]).status_code == 404


def test_values_are_text_not_template_code(api: Api) -> None:
    values = {**IMPACT, "impact": "{{ 7 * 7 }} {% if 1 %}x{% endif %}"}
    shown = api.send(
        1, template="internal-alert", channels=["ops-events"], values=values, dry_run=True
    )
    assert "Impact: {{ 7 * 7 }} {% if 1 %}x{% endif %}" in shown.json()["text"]


def test_dry_run_shows_and_sends_nothing(api: Api) -> None:
    shown = api.send(
        1, template="internal-alert", channels=["ops-events"], values=IMPACT, dry_run=True
    )
    assert shown.status_code == 202
    assert shown.json()["deliveries"] == []
    assert "Severity: P1" in shown.json()["text"]
    assert "message_queued" not in api.kinds(1)


def test_the_cli_sends_a_template(
    cli: Cli, api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARROOM_CHANNELS_FILE", str(tmp_path / "channels.json"))
    args = ["incident", "message", "1", "--template", "internal-alert", "--channel", "ops-events"]
    missing = cli(*args)
    assert missing.code != 0
    assert "needs a value for impact, status_page" in missing.err
    assert len(missing.err.strip().splitlines()) == 1
    bad = cli(*args, "--set", "impact")
    assert bad.code != 0
    assert "--set" in bad.err
    ok = cli(*args, "--set", "impact=Checkout slow", "--set", "status_page=https://s.example.com")
    assert ok.code == 0, ok.err
    assert "Impact: Checkout slow" in ok.out
    assert "queued 1 deliveries" in ok.out
