"""A recording HTTP API on 127.0.0.1 for tests: every POST is kept (path and form or JSON
parameters) and answered by ``answer`` unless a scripted answer is waiting for that path."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


@dataclass
class FakeApi:
    url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    script: dict[str, list[Answer]] = field(default_factory=dict)  # key -> answers to give first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def called(self, key: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == key]

    def key(self, path: str) -> str:
        return path

    def answer(self, key: str, params: dict[str, Any]) -> Answer:
        return 200, {}, {}


def serve(state: FakeApi, prefix: Callable[[int], str]) -> ThreadingHTTPServer:
    """Serve ``state`` on a free port; its ``url`` becomes ``prefix(port)``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            key = state.key(self.path)
            raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            if "json" in (self.headers.get("content-type") or ""):
                params: dict[str, Any] = json.loads(raw or "{}")
            else:
                params = {k: v[0] for k, v in parse_qs(raw).items()}
            with state.lock:
                state.calls.append((key, params))
                scripted = state.script.get(key)
                status, body, headers = scripted.pop(0) if scripted else state.answer(key, params)
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
    state.url = prefix(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
