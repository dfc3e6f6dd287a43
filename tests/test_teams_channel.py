"""Microsoft Teams through a Workflows/incoming webhook URL: a real receiver on 127.0.0.1
gets Adaptive Cards for events, pages (with the acknowledgement link) and messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.apps import app_with
from tests.receivers import Receiver, drain
from warroom.clock import FakeClock
from warroom.notify.models import Delivery
from warroom.runtime import Runtime
from warroom.settings import Settings

CARD = "application/vnd.microsoft.card.adaptive"


class Api:
    def __init__(self, runtime: Runtime, client: TestClient, token: str, receiver: Receiver):
        self.runtime, self.client, self.receiver = runtime, client, receiver
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, f"/api/v1{path}", headers=self.headers, json=body)
        assert response.status_code < 300, response.text
        return response.json()

    def cards(self) -> list[dict[str, Any]]:
        found = []
        for event in self.receiver.events():
            [attachment] = event["attachments"]
            assert (event["type"], attachment["contentType"]) == ("message", CARD)
            found.append(attachment["content"])
        return found


@pytest.fixture
def api(settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path) -> Iterator[Api]:
    channels = tmp_path / "channels.json"
    teams = {"url": receiver.url, "events": ["incident.triggered", "incident.resolved"]}
    channels.write_text(json.dumps({"teams": [teams]}))
    with app_with(settings, clock, channels, base_url="https://wr.test") as (
        runtime,
        client,
        token,
    ):
        yield Api(runtime, client, token, receiver)


def facts(card: dict[str, Any]) -> dict[str, str]:
    found = [b for b in card["body"] if b["type"] == "FactSet"]
    return {f["title"]: f["value"] for f in found[0]["facts"]} if found else {}


def test_events_and_pages_arrive_as_adaptive_cards(api: Api) -> None:
    api.call("POST", "/people", {"name": "Ana", "notification_rules": ["teams"]})
    levels = [{"targets": [{"person": "Ana"}], "timeout": "5m"}]
    api.call("POST", "/escalation-policies", {"name": "p", "levels": levels})
    body = {"title": "Checkout down", "severity": "P1", "escalation_policy": "p"}
    incident = api.call("POST", "/incidents", body)["id"]
    drain(api.runtime)
    cards = api.cards()
    assert len(cards) == 2  # incident.triggered, and Ana's page
    triggered, page = sorted(cards, key=lambda c: len(c["body"]))
    assert facts(triggered) == {"Incident": str(incident), "Severity": "P1", "Status": "triggered"}
    assert [a["title"] for a in triggered["actions"]] == ["Open incident"]
    assert page["body"][1]["text"] == "For Ana"
    acknowledge = next(a for a in page["actions"] if a["title"] == "Acknowledge")
    assert acknowledge["url"].startswith("https://wr.test/ack/")
    api.call("POST", f"/incidents/{incident}/acknowledge", {})
    drain(api.runtime)
    assert len(api.cards()) == 2  # acknowledged is not subscribed


def test_a_template_message_is_posted_as_a_card(api: Api) -> None:
    incident = api.call("POST", "/incidents", {"title": "Search slow", "severity": "P2"})["id"]
    values = {"impact": "Search takes 5 s", "status_page": "https://status.example.com"}
    values["incident_commander"] = "Ana"
    body = {"template": "internal-alert", "channels": ["teams"], "values": values}
    api.call("POST", f"/incidents/{incident}/messages", body)
    drain(api.runtime)
    texts = [[b["text"] for b in card["body"] if b["type"] == "TextBlock"] for card in api.cards()]
    [message] = [t for t in texts if any("Impact: Search takes 5 s" in line for line in t)]
    assert message[0] == "Internal Alert"  # the template's name is the subject


def test_teams_refusals_fail_for_good_and_throttling_is_retried(api: Api, clock: FakeClock) -> None:
    api.receiver.script = [400, 429]
    api.receiver.headers = {"Retry-After": "90"}
    first = api.call("POST", "/incidents", {"title": "One", "severity": "P3"})["id"]
    drain(api.runtime)
    kinds = [e["kind"] for e in api.call("GET", f"/incidents/{first}/timeline")]
    assert "notification_failed" in kinds
    api.call("POST", "/incidents", {"title": "Two", "severity": "P3"})
    drain(api.runtime)
    clock.advance(timedelta(seconds=60))
    drain(api.runtime)
    with api.runtime.read() as session:
        statuses = session.scalars(select(Delivery.status).order_by(Delivery.id)).all()
    assert statuses == ["failed", "queued"]
    clock.advance(timedelta(seconds=31))
    drain(api.runtime)
    with api.runtime.read() as session:
        statuses = session.scalars(select(Delivery.status).order_by(Delivery.id)).all()
    assert statuses == ["failed", "sent"]
