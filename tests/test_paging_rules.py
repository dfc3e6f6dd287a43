"""How pages reach people: notification rules (a channel, some time after the page), the
signed acknowledgement link in every page, and per-person page limits with a digest. Real
webhook receivers on 127.0.0.1 stand for two channels ("chat" and "sms")."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from tests.apps import app_with
from tests.conftest import Cli
from tests.receivers import SECRET, Receiver, drain, start_receiver
from warroom.clock import FakeClock
from warroom.notify.models import Delivery
from warroom.paging import links
from warroom.runtime import Runtime
from warroom.settings import Settings

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
POLICY = {
    "name": "devops",
    "levels": [
        {"targets": [{"person": "ana@example.com"}], "timeout": "5m"},
        {"targets": [{"person": "ben@example.com"}], "timeout": "5m"},
    ],
}


class Pages:
    def __init__(self, runtime: Runtime, client: TestClient, token: str, clock: FakeClock):
        self.runtime, self.client, self.clock = runtime, client, clock
        self.headers = {"Authorization": f"Bearer {token}"}
        self.chat: Receiver
        self.sms: Receiver

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.headers, json=body)

    def declare(self, title: str = "Checkout down") -> int:
        body = {"title": title, "severity": "P1", "escalation_policy": "devops"}
        response = self.call("POST", "/incidents", body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def run(self, seconds: float = 0) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        drain(self.runtime)

    def kinds(self, incident_id: int) -> list[str]:
        response = self.call("GET", f"/incidents/{incident_id}/timeline")
        return [e["kind"] for e in response.json()]


def received(receiver: Receiver) -> list[tuple[str, str]]:
    """(event type, person name) of every request the receiver got."""
    return [(e["type"], e["data"]["person"]["name"]) for e in receiver.events()]


@pytest.fixture
def pages(settings: Settings, clock: FakeClock, tmp_path: Path) -> Iterator[Pages]:
    clock.set(START)
    chat, chat_server = start_receiver()
    sms, sms_server = start_receiver()
    channels = tmp_path / "channels.yaml"
    hook = {"secret": SECRET, "events": ["incident.page"]}
    channels.write_text(
        json.dumps(
            {
                "webhooks": [
                    {"name": "chat", "url": chat.url, **hook},
                    {"name": "sms", "url": sms.url, **hook},
                ],
                "page_limits": [{"channel": "sms", "pages": 2, "per": "15m"}],
            }
        )
    )
    app = app_with(settings, clock, channels, base_url="https://wr.test")
    try:
        with app as (runtime, client, token):
            setup = Pages(runtime, client, token, clock)
            setup.chat, setup.sms = chat, sms
            ana = {"name": "Ana", "email": "ana@example.com", "notification_rules": ["chat"]}
            ana["notification_rules"].append({"channel": "sms", "after_seconds": 120})
            assert setup.call("POST", "/people", ana).status_code == 201
            ben = {"name": "Ben", "email": "ben@example.com"}
            assert setup.call("POST", "/people", ben).status_code == 201
            assert setup.call("POST", "/escalation-policies", POLICY).status_code == 201
            yield setup
    finally:
        for server in (chat_server, sms_server):
            server.shutdown()
            server.server_close()


def test_each_rule_pages_on_its_channel_at_its_delay(pages: Pages) -> None:
    pages.declare()
    pages.run()
    assert received(pages.chat) == [("incident.page", "Ana")]
    assert received(pages.sms) == []
    pages.run(119)
    assert received(pages.sms) == []
    pages.run(1)
    assert received(pages.sms) == [("incident.page", "Ana")]
    # one page over two channels: the same event id on each
    assert pages.sms.events()[0]["id"] == pages.chat.events()[0]["id"] == "page-1-0-0-1"
    timeline = pages.call("GET", "/incidents/1/timeline").json()
    notified = [
        (e["data"]["channel"], e["data"]["recipient"]) for e in timeline if e["kind"] == "notified"
    ]
    assert notified == [("chat", "ana@example.com"), ("sms", "ana@example.com")]
    # Ben has no rules: every paging channel at once, when his level comes
    pages.run(180)
    assert received(pages.chat)[-1] == ("incident.page", "Ben")
    assert received(pages.sms)[-1] == ("incident.page", "Ben")


def test_a_later_rule_is_not_sent_once_the_incident_is_acknowledged(pages: Pages) -> None:
    incident = pages.declare()
    pages.run(60)
    assert pages.call("POST", f"/incidents/{incident}/acknowledge", {}).status_code == 200
    pages.run(600)
    assert received(pages.chat) == [("incident.page", "Ana")]
    assert received(pages.sms) == []
    with pages.runtime.read() as session:
        statuses = session.scalars(select(Delivery.status).where(Delivery.channel == "sms")).all()
    assert statuses == ["cancelled"]


def test_the_link_in_a_page_shows_the_incident_and_its_button_acknowledges(
    pages: Pages,
) -> None:
    incident = pages.declare()
    pages.run()
    [event] = pages.chat.events()
    link = event["data"]["acknowledge_link"]
    assert link.startswith("https://wr.test/ack/")
    path = link.removeprefix("https://wr.test")

    shown = pages.client.get(path)
    assert shown.status_code == 200
    assert "Checkout down" in shown.text
    assert "<button" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert "acknowledged" not in pages.kinds(incident)  # looking is not acknowledging

    done = pages.client.post(path)
    assert done.status_code == 200
    assert "Acknowledged" in done.text
    timeline = pages.call("GET", f"/incidents/{incident}/timeline").json()
    acknowledged = [e for e in timeline if e["kind"] == "acknowledged"]
    assert [e["actor"] for e in acknowledged] == ["person:Ana"]

    pages.run(3600)  # the escalation stopped: nobody else is paged
    assert received(pages.chat) == [("incident.page", "Ana")]
    again = pages.client.post(path)
    assert again.status_code == 200
    assert "no longer waiting" in again.text
    assert pages.kinds(incident).count("acknowledged") == 1


def test_a_forged_or_expired_link_is_refused_and_changes_nothing(pages: Pages) -> None:
    incident = pages.declare()
    pages.run()
    link = pages.chat.events()[0]["data"]["acknowledge_link"]
    token = link.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    class TwoDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 2 * 86400

    old = URLSafeTimedSerializer(pages.runtime.secret_key, salt=links.SALT, signer=TwoDaysAgo)
    expired = old.dumps({"incident": incident, "person": 1})
    other_key = URLSafeTimedSerializer("not the key", salt=links.SALT).dumps(
        {"incident": incident, "person": 1}
    )
    for bad, why in ((forged, "not valid"), (expired, "expired"), (other_key, "not valid")):
        response = pages.client.post(f"/ack/{bad}")
        assert response.status_code == 403, bad
        assert why in response.text
    assert "acknowledged" not in pages.kinds(incident)


def test_pages_over_a_channels_limit_are_held_and_sent_as_one_digest(pages: Pages) -> None:
    for n in range(4):  # Ana is paged on sms 2 minutes after each: the 3rd and 4th are held
        pages.declare(title=f"Outage {n}")
    pages.run()
    pages.run(120)
    assert len(pages.sms.events()) == 2
    assert len(pages.chat.events()) == 4  # chat has no limit
    with pages.runtime.read() as session:
        held = session.scalars(select(Delivery.status).where(Delivery.status == "held")).all()
    assert len(held) == 2
    pages.run(15 * 60)

    def digests() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for event in pages.sms.events():
            if event["type"] == "page.digest":
                name = event["data"]["person"]["name"]
                assert name not in found, "one digest per person and window"
                found[name] = [h["subject"] for h in event["data"]["held"]]
        return found

    assert digests() == {"Ana": ["[P1] Outage 2", "[P1] Outage 3"]}
    # Ben, paged on every channel at level 2 (the worker ran it late, at 9:17), is over the
    # limit too: his digest comes when his window ends; Ana gets no second one
    pages.run(15 * 60)
    assert digests() == {
        "Ana": ["[P1] Outage 2", "[P1] Outage 3"],
        "Ben": ["[P1] Outage 2", "[P1] Outage 3"],
    }


def test_rules_naming_an_unconfigured_channel_are_refused(pages: Pages) -> None:
    body = {"name": "Cy", "email": "cy@example.com", "notification_rules": ["pager-duty"]}
    response = pages.call("POST", "/people", body)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "notification_rules[0].channel"
    people = pages.call("GET", "/people").json()
    assert [p["name"] for p in people] == ["Ana", "Ben"]

    ben = next(p for p in people if p["name"] == "Ben")
    bad_rules = [
        ({"rules": [{"channel": "sms", "after_seconds": -1}]}, "rules[0].after_seconds"),
        ({"rules": [{"channel": "sms", "after_seconds": 7200}]}, "rules[0].after_seconds"),
        ({"rules": ["chat", "nope@1m"]}, "notification_rules[1].channel"),
        ({"rules": ["chat@soon"]}, "rules[0]"),
    ]
    for body, field in bad_rules:
        response = pages.call("PUT", f"/people/{ben['id']}/notification-rules", body)
        assert response.status_code == 422, body
        assert response.json()["error"]["details"]["field"] == field, response.json()
    after = pages.call("GET", f"/people/{ben['id']}").json()
    assert after["notification_rules"] == []

    good = {"rules": ["sms", "chat@30s"]}
    response = pages.call("PUT", f"/people/{ben['id']}/notification-rules", good)
    assert response.status_code == 200
    assert response.json()["notification_rules"] == [
        {"channel": "sms", "after_seconds": 0},
        {"channel": "chat", "after_seconds": 30},
    ]


def test_the_cli_sets_shows_exports_and_imports_rules(
    cli: Cli, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = tmp_path / "channels.yaml"
    hook = {"url": "http://127.0.0.1:9/x", "secret": SECRET}
    channels.write_text(json.dumps({"webhooks": [{"name": "sms", **hook}]}))
    monkeypatch.setenv("WARROOM_CHANNELS_FILE", str(channels))
    assert cli("people", "add", "--name", "Ana", "--email", "ana@example.com").code == 0
    shown = cli("people", "rules", "ana@example.com")
    assert shown.code == 0
    assert "every paging channel at once" in shown.out
    done = cli("people", "rules", "Ana", "--rule", "console", "--rule", "sms@2m")
    assert done.code == 0, done.err
    assert "console after 0s; sms after 120s" in done.out

    for bad, said in (("pager", "no channel named 'pager'"), ("sms@later", "not a duration")):
        result = cli("people", "rules", "Ana", "--rule", bad)
        assert result.code != 0
        assert said in result.err, result.err
        assert len(result.err.strip().splitlines()) == 1
    assert "sms after 120s" in cli("people", "rules", "Ana").out

    exported = cli("people", "export", "--format", "csv")
    assert "ana@example.com" in exported.out
    assert "console;sms@2m" in exported.out
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("name,email,notification_rules\nBo,bo@example.com,sms@1m;console@5m\n")
    assert cli("people", "import", str(csv_file)).code == 0
    assert "sms after 60s; console after 300s" in cli("people", "rules", "Bo").out
    yaml_file = tmp_path / "people.yaml"
    yaml_file.write_text("- name: Cy\n  notification_rules: [nowhere]\n")
    result = cli("people", "import", str(yaml_file))
    assert result.code != 0
    assert "nowhere" in result.err
    assert "Cy" not in cli("people", "list").out
