"""A slice of the Slack Web API on 127.0.0.1 for tests (the methods warroom calls,
recorded, answers scriptable), and signing for inbound requests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.fake_api import Answer, FakeApi, serve

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"


@dataclass
class FakeSlack(FakeApi):
    channels: dict[str, str] = field(default_factory=dict)  # name -> id

    def key(self, path: str) -> str:
        return path.rsplit("/", 1)[-1]  # the method, e.g. chat.postMessage

    def answer(self, key: str, params: dict[str, Any]) -> Answer:
        if key == "conversations.create":
            name = str(params["name"])
            if name in self.channels:
                return 200, {"ok": False, "error": "name_taken"}, {}
            self.channels[name] = f"C{len(self.channels) + 100}"
            return 200, {"ok": True, "channel": {"id": self.channels[name], "name": name}}, {}
        if key == "conversations.list":
            listed = [{"id": i, "name": n} for n, i in self.channels.items()]
            return 200, {"ok": True, "channels": listed, "response_metadata": {}}, {}
        if key == "chat.postMessage":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": f"{time.time()}"}, {}
        return 200, {"ok": True}, {}


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    state = FakeSlack()
    server = serve(state, lambda port: f"http://127.0.0.1:{port}/api/")
    yield state
    server.shutdown()
    server.server_close()


def signed(
    fields: dict[str, str], *, age: int = 0, secret: str = SIGNING_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A form body and the headers Slack would send with it (``age`` seconds ago)."""
    body = urlencode(fields)
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
        "content-type": "application/x-www-form-urlencoded",
    }
    return body.encode(), headers
