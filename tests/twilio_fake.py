"""A slice of Twilio's REST API on 127.0.0.1 for tests: Messages and Calls, recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.fake_api import Answer, FakeApi

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token-for-tests"
OURS = "+15005550006"


@dataclass
class FakeTwilio(FakeApi):
    def key(self, path: str) -> str:
        return path.rsplit("/", 1)[-1].removesuffix(".json")  # Messages or Calls

    def answer(self, key: str, params: dict[str, Any]) -> Answer:
        sid = ("SM" if key == "Messages" else "CA") + f"{len(self.calls):032d}"
        return 201, {"sid": sid, "status": "queued", "to": params.get("To")}, {}
