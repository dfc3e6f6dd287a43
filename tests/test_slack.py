"""Slack, both ways, against a fake Slack Web API on 127.0.0.1 that slack-sdk is pointed at:
events to #incidents, an incident channel with the responders, pages as DMs with buttons;
the /warroom command, the buttons and the shortcut, with signatures checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.apps import app_with
from tests.receivers import Receiver, drain
from tests.slack_fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack, signed
from warroom.clock import FakeClock
from warroom.notify.models import Delivery
from warroom.runtime import Runtime
from warroom.settings import Settings

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
PEOPLE = [("Ana", "U0ANA"), ("Ben", "U0BEN"), ("Cy", None)]


def schedule(name: str, email: str) -> dict[str, Any]:
    layer = {"name": "w", "rotation": "weekly", "start": "2026-01-05", "participants": [email]}
    return {"name": name, "timezone": "UTC", "layers": [layer]}


class Chat:
    def __init__(
        self, runtime: Runtime, client: TestClient, token: str, clock: FakeClock, slack: FakeSlack
    ):
        self.runtime, self.client, self.clock, self.slack = runtime, client, clock, slack
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.headers, json=body)

    def run(self, seconds: float = 0) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        drain(self.runtime)

    def command(self, text: str, user: str = "U0ANA", channel: str = "general", **kw: Any) -> Any:
        fields = {"command": "/warroom", "text": text, "user_id": user, "channel_name": channel}
        body, headers = signed(fields, **kw)
        return self.client.post("/slack/commands", content=body, headers=headers)

    def interact(self, payload: dict[str, Any], **kw: Any) -> Any:
        body, headers = signed({"payload": json.dumps(payload)}, **kw)
        return self.client.post("/slack/interactions", content=body, headers=headers)

    def incident(self, incident_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/incidents/{incident_id}").json())

    def timeline(self, incident_id: int) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/incidents/{incident_id}/timeline").json())


def slack_file(tmp_path: Path, **config: Any) -> Path:
    path = tmp_path / "channels.json"
    path.write_text(json.dumps({"slack": [{"name": "slack", **config}]}))
    return path


def build(settings: Settings, clock: FakeClock, slack: FakeSlack, channels: Path) -> Iterator[Chat]:
    clock.set(START)
    with app_with(settings, clock, channels, base_url="https://wr.test") as (
        runtime,
        client,
        token,
    ):
        chat = Chat(runtime, client, token, clock, slack)
        for name, chat_id in PEOPLE:
            body = {"name": name, "email": f"{name.lower()}@example.com", "chat_id": chat_id}
            assert chat.call("POST", "/people", body).status_code == 201
        yield chat


@pytest.fixture
def chat(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack, tmp_path: Path
) -> Iterator[Chat]:
    channels = slack_file(
        tmp_path, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake_slack.url
    )
    yield from build(settings, clock, fake_slack, channels)


def test_a_new_incident_is_posted_and_gets_its_own_channel_with_the_responders(
    chat: Chat,
) -> None:
    for name, email in (
        ("devops-lead", "ana@example.com"),
        ("senior-developers", "ben@example.com"),
    ):
        assert chat.call("POST", "/schedules", schedule(name, email)).status_code == 201
    created = chat.call("POST", "/incidents", {"title": "Checkout is DOWN!", "severity": "P1"})
    incident = created.json()["id"]
    chat.run()
    posts = chat.slack.called("chat.postMessage")
    to_incidents = [p for p in posts if p["channel"] == "#incidents"]
    assert len(to_incidents) == 1
    assert "Checkout is DOWN!" in to_incidents[0]["text"]
    buttons = to_incidents[0]["blocks"][-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["warroom_acknowledge", "warroom_resolve"]
    assert {b["value"] for b in buttons} == {str(incident)}

    [created_channel] = chat.slack.called("conversations.create")
    assert created_channel["name"] == f"inc-{incident}-checkout-is-down"
    channel_id = chat.slack.channels[created_channel["name"]]
    [topic] = chat.slack.called("conversations.setTopic")
    assert topic["channel"] == channel_id
    assert topic["topic"].startswith("[P1] Checkout is DOWN!")
    [invite] = chat.slack.called("conversations.invite")
    assert invite["users"] == "U0ANA,U0BEN"  # the Incident Commander and Technical Lead
    in_channel = [p for p in posts if p["channel"] == channel_id]
    assert len(in_channel) == 1
    [pin] = chat.slack.called("pins.add")
    assert pin["channel"] == channel_id


def test_a_retry_after_the_channel_was_made_finds_it_instead_of_failing(chat: Chat) -> None:
    chat.slack.channels["inc-1-db-slow"] = "C777"  # made by a try that died before committing
    chat.call("POST", "/incidents", {"title": "DB slow", "severity": "P2"})
    chat.run()
    assert chat.slack.called("conversations.list")
    assert chat.slack.called("conversations.setTopic")[0]["channel"] == "C777"
    with chat.runtime.read() as session:
        assert session.scalars(select(Delivery.status)).all() == ["sent"]


def test_pages_are_direct_messages_with_buttons_and_skip_people_without_a_chat_id(
    chat: Chat,
) -> None:
    levels = [
        {"targets": [{"person": "Ana"}, {"person": "Cy"}], "timeout": "5m"},
    ]
    assert (
        chat.call("POST", "/escalation-policies", {"name": "p", "levels": levels}).status_code
        == 201
    )
    body = {"title": "Queue backlog", "severity": "P2", "escalation_policy": "p"}
    incident = chat.call("POST", "/incidents", body).json()["id"]
    chat.run()
    dms = [p for p in chat.slack.called("chat.postMessage") if p["channel"].startswith("U")]
    assert [d["channel"] for d in dms] == ["U0ANA"]  # Cy has no chat id: no Slack page
    assert "You are paged (level 1 of p)" in dms[0]["text"]
    actions = dms[0]["blocks"][-1]["elements"]
    assert [a["value"] for a in actions] == [str(incident), str(incident)]


def test_slack_errors_fail_for_good_or_retry_as_slack_says(chat: Chat) -> None:
    chat.slack.script["chat.postMessage"] = [
        (200, {"ok": False, "error": "channel_not_found"}, {}),
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "120"}),
    ]
    first = chat.call("POST", "/incidents", {"title": "One", "severity": "P3"}).json()["id"]
    chat.run()
    assert "notification_failed" in [e["kind"] for e in chat.timeline(first)]
    chat.call("POST", "/incidents", {"title": "Two", "severity": "P3"})
    chat.run()
    with chat.runtime.read() as session:
        statuses = session.scalars(select(Delivery.status).order_by(Delivery.id)).all()
    assert statuses == ["failed", "queued"]
    chat.run(60)  # Slack asked for 120 s
    assert len(chat.slack.called("chat.postMessage")) == 2
    chat.run(70)
    assert chat.slack.called("chat.postMessage")[-1]["text"].endswith("[P3] Two")


def test_with_only_an_incoming_webhook_posts_go_to_it(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack, receiver: Receiver, tmp_path: Path
) -> None:
    channels = slack_file(tmp_path, webhook_url=receiver.url, events=["incident.triggered"])
    for chat in build(settings, clock, fake_slack, channels):
        chat.call("POST", "/incidents", {"title": "Disk full", "severity": "P2"})
        chat.run()
        [event] = receiver.events()
        assert "Disk full" in event["text"]
        assert fake_slack.calls == []  # no Web API without a bot token


def test_the_slash_command_runs_an_incident(chat: Chat) -> None:
    declared = chat.command("declare P1 Checkout is down")
    assert declared.status_code == 200
    assert declared.json() == {
        "response_type": "in_channel",
        "text": "incident 1 declared: [P1] Checkout is down",
    }
    assert chat.timeline(1)[0]["actor"] == "slack:Ana"

    here = "inc-1-checkout-is-down"
    assert (
        chat.command("ack", channel=here).json()["text"] == "incident 1 is now acknowledged (Ana)"
    )
    assigned = chat.command("assign Technical Lead <@U0BEN|ben>", channel=here).json()["text"]
    assert assigned == "Ben is now Technical Lead of incident 1"
    assert chat.command("severity P0 1").json()["text"] == "incident 1 is now P0"
    assert chat.command("update 3 servers down, failing over", channel=here).status_code == 200
    notes = [e["data"]["text"] for e in chat.timeline(1) if e["kind"] == "note"]
    assert notes == ["3 servers down, failing over"]
    status = chat.command("status", channel=here).json()["text"]
    assert status.startswith("incident 1 [P0] Checkout is down: acknowledged;")
    assert "technical-lead: Ben" in status
    assert chat.command("resolve 1").json()["text"] == "incident 1 is now resolved (Ana)"
    incident = chat.incident(1)
    assert (incident["status"], incident["severity"]) == ("resolved", "P0")


def test_command_mistakes_answer_only_the_user_and_change_nothing(chat: Chat) -> None:
    for text, user, said in (
        ("ack", "U0ANA", "say which incident"),
        ("ack 99", "U0ANA", "incident 99 not found"),
        ("declare P1", "U0ANA", "say what is wrong"),
        ("frobnicate", "U0ANA", "unknown command 'frobnicate'"),
        ("declare P1 Outage", "U0NOBODY", "not in warroom's directory"),
        ("page Wizard 1", "U0ANA", "unknown role 'Wizard'"),
    ):
        answer = chat.command(text, user=user).json()
        assert answer["response_type"] == "ephemeral", text
        assert said in answer["text"], answer
    assert chat.call("GET", "/incidents").json()["total"] == 0


def test_the_buttons_acknowledge_and_resolve_and_stop_the_paging(chat: Chat) -> None:
    levels = [
        {"targets": [{"person": "Ana"}], "timeout": "5m"},
        {"targets": [{"person": "Ben"}], "timeout": "5m"},
    ]
    assert (
        chat.call("POST", "/escalation-policies", {"name": "p", "levels": levels}).status_code
        == 201
    )
    body = {"title": "Queue backlog", "severity": "P2", "escalation_policy": "p"}
    incident = chat.call("POST", "/incidents", body).json()["id"]
    chat.run()

    def press(action: str, user: str = "U0ANA") -> Any:
        payload = {
            "type": "block_actions",
            "user": {"id": user},
            "actions": [{"action_id": action, "value": str(incident)}],
        }
        return chat.interact(payload)

    assert press("warroom_acknowledge").status_code == 200
    assert chat.incident(incident)["status"] == "acknowledged"
    chat.run(600)  # level 2 would have paged Ben
    dms = [
        p["channel"] for p in chat.slack.called("chat.postMessage") if p["channel"].startswith("U")
    ]
    assert dms == ["U0ANA"]
    assert press("warroom_resolve", user="U0BEN").status_code == 200
    assert chat.incident(incident)["status"] == "resolved"
    acted = [(e["kind"], e["actor"]) for e in chat.timeline(incident)]
    assert ("acknowledged", "slack:Ana") in acted
    assert ("resolved", "slack:Ben") in acted


def test_the_shortcut_adds_a_message_to_the_timeline(chat: Chat) -> None:
    chat.command("declare P2 Search slow")
    payload = {
        "type": "message_action",
        "callback_id": "warroom_add_to_timeline",
        "user": {"id": "U0BEN"},
        "channel": {"name": "inc-1-search-slow"},
        "message": {"user": "U0ANA", "text": "index rebuild started 09:12"},
    }
    assert chat.interact(payload).json()["text"] == "added to the timeline of incident 1"
    [note] = [e for e in chat.timeline(1) if e["kind"] == "note"]
    assert note["actor"] == "slack:Ben"
    assert note["data"]["text"].startswith("index rebuild started 09:12")


def test_forged_stale_and_replayed_requests_are_refused_and_do_nothing(chat: Chat) -> None:
    forged = chat.command("declare P1 Forged", secret="not-the-secret")
    stale = chat.command("declare P1 Stale", age=6 * 60)
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert "signature" in forged.json()["error"]["message"]
    body, headers = signed({"text": "declare P1 Once", "user_id": "U0ANA"})
    first = chat.client.post("/slack/commands", content=body, headers=headers)
    again = chat.client.post("/slack/commands", content=body, headers=headers)
    assert first.status_code == 200
    assert again.status_code == 401
    assert "replay" in again.json()["error"]["message"]
    unsigned = chat.client.post(
        "/slack/commands", data={"text": "declare P1 X", "user_id": "U0ANA"}
    )
    assert unsigned.status_code == 401
    titles = [i["title"] for i in chat.call("GET", "/incidents").json()["items"]]
    assert titles == ["Once"]


def test_without_a_signing_secret_the_slack_routes_are_not_there(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    channels = slack_file(tmp_path, bot_token=BOT_TOKEN, api_url=fake_slack.url)
    for chat in build(settings, clock, fake_slack, channels):
        assert chat.command("declare P1 X").status_code == 404
