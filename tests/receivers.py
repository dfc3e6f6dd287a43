"""A webhook receiver on 127.0.0.1 for tests, and helpers to point warroom at it."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from warroom.engine.worker import run_due
from warroom.runtime import Runtime

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers from a script
    of status codes (200 once the script runs out)."""

    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # sent with every scripted answer
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each request
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event | None = None  # when set up: each answer waits for it (30 s)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    """A receiver serving in a thread; shut the server down when done."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["content-length"])
            body = self.rfile.read(length)
            if len(body) < length:  # the sender died mid-request (killed): nothing arrived
                return
            with state.lock:
                state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                state.arrived.append(time.monotonic())
            if state.release is not None:  # a slow receiver: answers once the test says
                state.release.wait(30)
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            for name, value in state.headers.items() if status != 200 else ():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/events"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state, server = start_receiver()
    yield state
    server.shutdown()
    server.server_close()


def channels_file(tmp_path: Path, url: str, **extra: Any) -> Path:
    hook = {"name": "ops-events", "url": url, "secret": SECRET, **extra}
    path = tmp_path / "channels.yaml"
    path.write_text(json.dumps({"webhooks": [hook]}))
    return path


def drain(runtime: Runtime) -> None:
    for _ in range(50):
        if not run_due(factory=runtime.factory, clock=runtime.clock, handlers=runtime.handlers()):
            return
    raise AssertionError("jobs keep falling due")
