"""A slice of the Slack Web API on 127.0.0.1 for tests: the methods warroom calls, recorded,
with answers that can be scripted (errors, rate limits); and signing for inbound requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"


@dataclass
class FakeSlack:
    url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)  # name -> id
    script: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = field(
        default_factory=dict
    )  # method -> answers to give first: (status, body, headers)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def called(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "conversations.create":
            name = str(params["name"])
            if name in self.channels:
                return {"ok": False, "error": "name_taken"}
            self.channels[name] = f"C{len(self.channels) + 100}"
            return {"ok": True, "channel": {"id": self.channels[name], "name": name}}
        if method == "conversations.list":
            listed = [{"id": i, "name": n} for n, i in self.channels.items()]
            return {"ok": True, "channels": listed, "response_metadata": {"next_cursor": ""}}
        if method == "chat.postMessage":
            return {"ok": True, "channel": params.get("channel"), "ts": f"{time.time():.6f}"}
        return {"ok": True}


def start_fake_slack() -> tuple[FakeSlack, ThreadingHTTPServer]:
    state = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            method = self.path.rsplit("/", 1)[-1]
            raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            if "json" in (self.headers.get("content-type") or ""):
                params: dict[str, Any] = json.loads(raw or "{}")
            else:
                params = {k: v[0] for k, v in parse_qs(raw).items()}
            with state.lock:
                state.calls.append((method, params))
                scripted = state.script.get(method)
                status, body, headers = (
                    scripted.pop(0) if scripted else (200, state.answer(method, params), {})
                )
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    state, server = start_fake_slack()
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
