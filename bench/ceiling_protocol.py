"""Below ASGI: an asyncio protocol on uvloop that parses HTTP with httptools (what uvicorn
uses), reads the JSON body and answers 202, storing nothing -- no ASGI scope, task or
messages per request. What Python itself allows on this machine, for comparison with
``bench/ceiling_app.py`` (see docs/performance.md):

  taskset -c 1 .venv/bin/python bench/ceiling_protocol.py 18099 &
  BENCH_SYSTEMS=warroom BENCH_WARROOM_HOOK=http://127.0.0.1:18099/hooks/alertmanager/x \
      BENCH_WARROOM_PID=$! BENCH_PROBES=0 make bench-ingest
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httptools
import uvloop


class Hook(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:  # uvloop's own transport class
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        status, content = b"200 OK", b'{"ok":true}'
        if self.parser.get_method() == b"POST":
            alerts = len(json.loads(b"".join(self.body))["alerts"])
            status = b"202 Accepted"
            content = json.dumps({"status": "accepted", "alerts": alerts}).encode()
        self.body = []
        self.transport.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (status, len(content), content)
        )


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Hook, "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 18099))
