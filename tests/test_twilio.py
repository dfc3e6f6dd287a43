"""SMS and voice through a fake Twilio REST API on 127.0.0.1 (the twilio library pointed at
it), and the replies coming back signed: ACK by SMS, "press 1" on a call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from tests.apps import app_with
from tests.fake_api import serve
from tests.receivers import drain
from tests.twilio_fake import OURS, SID, TOKEN, FakeTwilio
from warroom.clock import FakeClock
from warroom.notify.base import Message
from warroom.notify.models import Delivery
from warroom.notify.twilio import sms_text
from warroom.runtime import Runtime
from warroom.settings import Settings

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
BASE = "https://wr.test"


class Phone:
    def __init__(self, runtime: Runtime, client: TestClient, token: str, clock: FakeClock):
        self.runtime, self.client, self.clock = runtime, client, clock
        self.headers = {"Authorization": f"Bearer {token}"}
        self.twilio: FakeTwilio

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.headers, json=body)

    def run(self, seconds: float = 0) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        drain(self.runtime)

    def declare(self, title: str = "Checkout down") -> int:
        body = {"title": title, "severity": "P1", "escalation_policy": "oncall"}
        response = self.call("POST", "/incidents", body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def inbound(self, path: str, fields: dict[str, str], token: str = TOKEN) -> Any:
        signature = RequestValidator(token).compute_signature(f"{BASE}{path}", fields)
        headers = {
            "x-twilio-signature": signature,
            "content-type": "application/x-www-form-urlencoded",
        }
        return self.client.post(path, content=urlencode(fields), headers=headers)

    def status(self, incident_id: int) -> str:
        return str(self.call("GET", f"/incidents/{incident_id}").json()["status"])


@pytest.fixture
def phone(settings: Settings, clock: FakeClock, tmp_path: Path) -> Iterator[Phone]:
    clock.set(START)
    fake = FakeTwilio()
    server = serve(fake, lambda port: f"http://127.0.0.1:{port}")
    channels = tmp_path / "channels.json"
    twilio = {"account_sid": SID, "auth_token": TOKEN, "from_number": OURS, "api_url": fake.url}
    channels.write_text(json.dumps({"twilio": twilio}))
    try:
        with app_with(settings, clock, channels, base_url=BASE) as (runtime, client, token):
            setup = Phone(runtime, client, token, clock)
            setup.twilio = fake
            ana = {
                "name": "Ana",
                "phone": "+4915112345678",
                "notification_rules": ["sms", "voice@2m"],
            }
            assert setup.call("POST", "/people", ana).status_code == 201
            ben = {"name": "Ben", "phone": "+4915187654321"}  # no rules: no SMS or call
            assert setup.call("POST", "/people", ben).status_code == 201
            levels = [
                {"targets": [{"person": "Ana"}], "timeout": "5m"},
                {"targets": [{"person": "Ben"}], "timeout": "5m"},
            ]
            policy = {"name": "oncall", "levels": levels}
            assert setup.call("POST", "/escalation-policies", policy).status_code == 201
            yield setup
    finally:
        server.shutdown()
        server.server_close()


def test_an_sms_then_a_call_that_reads_the_page(phone: Phone) -> None:
    incident = phone.declare()
    phone.run()
    [sms] = phone.twilio.called("Messages")
    assert (sms["To"], sms["From"]) == ("+4915112345678", OURS)
    assert (
        sms["Body"]
        == f"warroom #{incident} [P1] Checkout down - reply ACK {incident} to acknowledge"
    )
    assert phone.twilio.called("Calls") == []
    phone.run(120)
    [call] = phone.twilio.called("Calls")
    assert call["To"] == "+4915112345678"
    assert "Press 1 to acknowledge" in call["Twiml"]
    assert f'action="{BASE}/twilio/voice/{incident}"' in call["Twiml"]
    assert 'numDigits="1"' in call["Twiml"]
    phone.run(300)  # level 2, Ben: no rules, and SMS and calls are not sent by default
    assert len(phone.twilio.called("Messages")) == 1


def test_an_sms_fits_160_characters() -> None:
    page = {
        "type": "incident.page",
        "data": {"incident": {"id": 12345, "severity": "P0", "title": "x" * 400}},
    }
    text = sms_text(Message(recipient="+4930123456", subject="s", body=json.dumps(page)))
    assert len(text) == 160
    assert text.endswith(" - reply ACK 12345 to acknowledge")


def test_replying_ack_acknowledges_and_stops_the_call(phone: Phone) -> None:
    incident = phone.declare()
    phone.run()
    answer = phone.inbound(
        "/twilio/sms", {"From": "+4915112345678", "Body": "ack", "MessageSid": "SM1"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    assert f"incident {incident} is now acknowledged (Ana)" in answer.text
    assert phone.status(incident) == "acknowledged"
    phone.run(600)
    assert phone.twilio.called("Calls") == []  # the 2-minute call was cancelled
    timeline = phone.call("GET", f"/incidents/{incident}/timeline").json()
    assert ("acknowledged", "sms:Ana") in [(e["kind"], e["actor"]) for e in timeline]

    resolved = phone.inbound(
        "/twilio/sms", {"From": "+4915112345678", "Body": f"RESOLVE {incident}"}
    )
    assert "resolved" in resolved.text
    assert phone.status(incident) == "resolved"


def test_pressing_1_on_the_call_acknowledges(phone: Phone) -> None:
    incident = phone.declare()
    phone.run(120)
    path = f"/twilio/voice/{incident}"
    wrong = phone.inbound(path, {"To": "+4915112345678", "Digits": "7", "CallSid": "CA1"})
    assert "Not acknowledged" in wrong.text
    assert phone.status(incident) == "triggered"
    pressed = phone.inbound(path, {"To": "+4915112345678", "Digits": "1", "CallSid": "CA2"})
    assert "<Say>Incident 1 acknowledged. Goodbye.</Say>" in pressed.text
    assert phone.status(incident) == "acknowledged"


def test_bad_or_replayed_signatures_and_strangers_change_nothing(phone: Phone) -> None:
    incident = phone.declare()
    phone.run()
    fields = {"From": "+4915112345678", "Body": f"ack {incident}", "MessageSid": "SM9"}
    forged = phone.inbound("/twilio/sms", fields, token="wrong-token")
    assert forged.status_code == 401
    unsigned = phone.client.post("/twilio/sms", data=fields)
    assert unsigned.status_code == 401
    stranger = phone.inbound("/twilio/sms", {**fields, "From": "+4930999999"})
    assert "not in the directory" in stranger.text
    assert phone.status(incident) == "triggered"
    first = phone.inbound("/twilio/sms", fields)
    again = phone.inbound("/twilio/sms", fields)
    assert first.status_code == 200
    assert (again.status_code, again.json()["error"]["code"]) == (401, "unauthorized")
    gibberish = phone.inbound("/twilio/sms", {**fields, "Body": "what?", "MessageSid": "SM10"})
    assert "reply ACK 42" in gibberish.text


def test_twilio_errors_fail_for_good_or_are_tried_again(phone: Phone) -> None:
    invalid = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
    phone.twilio.script["Messages"] = [(400, invalid, {}), (503, {"message": "down"}, {})]
    first = phone.declare()
    phone.run()
    timeline = [e["kind"] for e in phone.call("GET", f"/incidents/{first}/timeline").json()]
    assert "notification_failed" in timeline
    phone.declare("Search down")
    phone.run()
    with phone.runtime.read() as session:
        statuses = session.scalars(
            select(Delivery.status).where(Delivery.channel == "sms").order_by(Delivery.id)
        ).all()
    assert statuses == ["failed", "queued"]
    phone.run(30)
    assert len(phone.twilio.called("Messages")) == 3


def test_sms_pages_over_the_default_limit_wait_for_a_digest(phone: Phone) -> None:
    for n in range(7):
        phone.declare(f"Outage {n}")
    phone.run()
    assert len(phone.twilio.called("Messages")) == 5  # at most 5 SMS per 15 minutes
    phone.run(15 * 60)
    digest = phone.twilio.called("Messages")[-1]["Body"]
    assert digest.startswith("warroom: 2 page(s) were held back")
