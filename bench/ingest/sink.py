"""The webhook sink Alertmanager and warroom notify: records when each probe alert arrives."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from multiprocessing.connection import Connection

from ingest.alerts import PROBE_LABEL
from ingest.load import HOST
from ingest.procs import die_with_parent


def sink_main(port: int, conn: Connection) -> None:
    die_with_parent()
    asyncio.run(_sink(port, conn))


async def _sink(port: int, conn: Connection) -> None:
    """Webhook sink: answers 200 at once, records the arrival time of each probe alert and
    sends (probe id, monotonic ns, the event's type: warroom's, or "alertmanager") to the
    parent; answers "stats" and stops on "stop"."""
    loop = asyncio.get_running_loop()
    stats = Counter[str]()
    stopped = loop.create_future()

    class Handler(asyncio.Protocol):
        def __init__(self) -> None:
            self.buf = bytearray()
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while (end := self.buf.find(b"\r\n\r\n")) >= 0:
                head = bytes(self.buf[:end]).lower()
                at = head.find(b"\r\ncontent-length:")
                length = int(head[at + 17 :].split(b"\r\n")[0]) if at >= 0 else 0
                if len(self.buf) < end + 4 + length:
                    return
                arrived = time.monotonic_ns()
                body = bytes(self.buf[end + 4 : end + 4 + length])
                del self.buf[: end + 4 + length]
                assert self.transport is not None
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                stats["notifications"] += 1
                stats["alerts"] += body.count(b'"fingerprint"')
                if PROBE_LABEL.encode() in body:
                    data = json.loads(body)  # Alertmanager's payload, or a warroom event
                    kind = data.get("type", "alertmanager")
                    for alert in data.get("alerts") or data["data"]["alerts"]:
                        if probe := alert["labels"].get(PROBE_LABEL):
                            conn.send((probe, arrived, kind))

    def on_command() -> None:
        try:
            command = conn.recv()
        except (EOFError, OSError):  # the benchmark is gone
            command = "stop"
        if command == "stats":
            conn.send(("stats", dict(stats)))
        elif not stopped.done():
            stopped.set_result(None)

    server = await loop.create_server(Handler, HOST, port, backlog=1024)
    loop.add_reader(conn.fileno(), on_command)
    conn.send(("ready", port))
    await stopped
    loop.remove_reader(conn.fileno())
    server.close()
