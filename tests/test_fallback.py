"""A page that fails for good on one channel goes out on its fallback (Slack -> SMS here),
against the fake Slack and Twilio APIs on 127.0.0.1; fallback settings are checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.apps import app_with
from tests.fake_api import serve
from tests.receivers import drain
from tests.slack_fake import BOT_TOKEN, FakeSlack
from tests.twilio_fake import OURS, SID, TOKEN, FakeTwilio
from warroom.clock import FakeClock
from warroom.errors import ChannelsError
from warroom.notify.config import load_channels
from warroom.settings import Settings


def test_a_failed_slack_page_is_sent_by_sms_instead(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    twilio = FakeTwilio()
    server = serve(twilio, lambda port: f"http://127.0.0.1:{port}")
    channels = tmp_path / "channels.json"
    channels.write_text(
        json.dumps(
            {
                "slack": [
                    {
                        "bot_token": BOT_TOKEN,
                        "api_url": fake_slack.url,
                        "fallback": "sms",
                        "events": ["incident.resolved"],
                    }
                ],
                "twilio": {
                    "account_sid": SID,
                    "auth_token": TOKEN,
                    "from_number": OURS,
                    "api_url": twilio.url,
                    "voice_channel": None,
                },
            }
        )
    )
    fake_slack.script["chat.postMessage"] = [(200, {"ok": False, "error": "user_not_found"}, {})]
    try:
        with app_with(settings, clock, channels) as (runtime, client, token):
            headers = {"Authorization": f"Bearer {token}"}

            def call(method: str, path: str, body: Any) -> Any:
                response = client.request(method, f"/api/v1{path}", headers=headers, json=body)
                assert response.status_code < 300, response.text
                return response.json()

            ana = {
                "name": "Ana",
                "chat_id": "U0ANA",
                "phone": "+4915112345678",
                "notification_rules": ["slack"],
            }
            call("POST", "/people", ana)
            levels = [{"targets": [{"person": "Ana"}], "timeout": "5m"}]
            call("POST", "/escalation-policies", {"name": "p", "levels": levels})
            body = {"title": "Checkout down", "severity": "P1", "escalation_policy": "p"}
            incident = call("POST", "/incidents", body)["id"]
            drain(runtime)
            assert [p["channel"] for p in fake_slack.called("chat.postMessage")] == ["U0ANA"]
            [sms] = twilio.called("Messages")
            assert sms["To"] == "+4915112345678"
            assert "Checkout down" in sms["Body"]
            entries = call("GET", f"/incidents/{incident}/timeline", None)
            kinds = [e["kind"] for e in entries]
            assert kinds.index("notification_failed") < kinds.index("notification_fallback")
            [fallback] = [e["data"] for e in entries if e["kind"] == "notification_fallback"]
            assert (fallback["from"], fallback["to"], fallback["person"]) == ("slack", "sms", "Ana")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("webhooks", "said"),
    [
        ([{"name": "a", "fallback": "nowhere"}], "a: fallback: no channel named 'nowhere'"),
        ([{"name": "a", "fallback": "b"}, {"name": "b", "fallback": "a"}], "in a circle"),
    ],
)
def test_fallbacks_must_name_a_channel_and_not_go_round(
    tmp_path: Path, webhooks: list[dict[str, Any]], said: str
) -> None:
    hooks = [
        {"url": "http://127.0.0.1:9/x", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", **w}
        for w in webhooks
    ]
    path = tmp_path / "channels.json"
    path.write_text(json.dumps({"webhooks": hooks}))
    with pytest.raises(ChannelsError) as caught:
        load_channels(path)
    assert said in str(caught.value.details["problems"])
