"""HTTP/1.1 on raw sockets, fast enough to saturate a server from one Python process: a blocking
keep-alive client for probes, a closed-loop and an open-loop (paced) asyncio load generator."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ingest.alerts import Alert, alert_stream, body_for
from ingest.procs import Server, die_with_parent

HOST = "127.0.0.1"


def http_request(
    port: int, path: str, body: bytes = b"", method: str = "POST", headers: str = ""
) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: warroom-bench\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    )
    return head.encode() + body


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class ResponseReader:
    """Incremental HTTP/1.1 response parser (Content-Length or chunked bodies)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._status = 0
        self._length: int | None = None  # body bytes still expected; None = chunked
        self._in_body = False
        self._body = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        done: list[tuple[int, bytes]] = []
        while True:
            if not self._in_body:
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    return done
                head = bytes(self._buf[:end]).lower()
                del self._buf[: end + 4]
                self._status = int(head[9:12])
                self._body = bytearray()
                self._in_body = True
                if b"\r\ntransfer-encoding: chunked" in head:
                    self._length = None
                else:
                    at = head.find(b"\r\ncontent-length:")
                    if at < 0:
                        self._length = 0
                    else:
                        stop = head.find(b"\r\n", at + 2)
                        self._length = int(head[at + 17 : stop if stop > 0 else len(head)])
            if self._length is not None:
                if len(self._buf) < self._length:
                    return done
                self._body += self._buf[: self._length]
                del self._buf[: self._length]
            elif not self._read_chunks():
                return done
            self._in_body = False
            done.append((self._status, bytes(self._body)))

    def _read_chunks(self) -> bool:
        while True:
            line_end = self._buf.find(b"\r\n")
            if line_end < 0:
                return False
            size = int(bytes(self._buf[:line_end]).split(b";")[0], 16)
            if size == 0:
                trailer_end = self._buf.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return False
                del self._buf[: trailer_end + 4]
                return True
            if len(self._buf) < line_end + 2 + size + 2:
                return False
            self._body += self._buf[line_end + 2 : line_end + 2 + size]
            del self._buf[: line_end + 2 + size + 2]


class BlockingClient:
    """One keep-alive connection, for probes and small requests."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection((HOST, self.port), timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def send(self, request: bytes) -> tuple[int, bytes]:
        sock = self._connect()
        reader = ResponseReader()
        try:
            sock.sendall(request)
            while True:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("the server closed the connection")
                if done := reader.feed(data):
                    return done[0]
        except OSError:
            self.close()
            raise

    def get(self, path: str) -> tuple[int, bytes]:
        return self.send(http_request(self.port, path, method="GET"))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class _Conn(asyncio.Protocol):
    def __init__(
        self,
        on_response: Callable[[_Conn, int], None],
        on_lost: Callable[[_Conn], None],
    ) -> None:
        self.on_response = on_response
        self.on_lost = on_lost
        self.reader = ResponseReader()
        self.transport: asyncio.Transport | None = None
        self.pending: int | None = None  # index of the request awaiting its answer
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, index: int, data: bytes) -> None:
        assert self.transport is not None
        self.pending = index
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        for status, _ in self.reader.feed(data):
            self.on_response(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.on_lost(self)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


@dataclass
class LoadResult:
    requests: int = 0
    alerts: int = 0
    elapsed: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    others_cpu: float = 0.0  # the server CPUs' busy share not spent by the server
    others_client_cpu: float = 0.0  # the client CPUs' busy share not spent by client or sink
    completed: bool = True

    @property
    def rate(self) -> float:
        return self.alerts / self.elapsed if self.elapsed > 0 else 0.0


async def _open(
    port: int, on_response: Callable[[_Conn, int], None], on_lost: Callable[[_Conn], None]
) -> _Conn:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: _Conn(on_response, on_lost), HOST, port)
    return protocol


async def closed_loop(
    port: int, requests: list[bytes], sizes: list[int], concurrency: int, timeout: float
) -> LoadResult:
    """Send every request once over `concurrency` keep-alive connections, each sending its next
    request as soon as the previous one is answered; alerts in 2xx-answered requests count."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    finished = loop.create_future()
    cursor = iter(range(len(requests)))
    answered = 0
    last_answer = 0.0
    reconnects: list[asyncio.Task[_Conn]] = []

    def issue(conn: _Conn) -> None:
        index = next(cursor, None)
        if index is None:
            conn.pending = None
            return
        conn.send(index, requests[index])

    def settle() -> None:
        nonlocal answered, last_answer
        answered += 1
        last_answer = time.perf_counter()
        if answered == len(requests) and not finished.done():
            finished.set_result(None)

    def on_response(conn: _Conn, status: int) -> None:
        index = conn.pending
        if index is None:
            return
        if 200 <= status < 300:
            result.requests += 1
            result.alerts += sizes[index]
        else:
            result.errors[f"HTTP {status}"] += 1
        settle()
        issue(conn)

    def on_lost(conn: _Conn) -> None:
        if conn.pending is not None:
            result.errors["connection lost"] += 1
            settle()
            conn.pending = None
        if not finished.done() and result.errors["connection lost"] < 100:
            reconnects.append(loop.create_task(_reopen()))

    async def _reopen() -> _Conn:
        conn = await _open(port, on_response, on_lost)
        conns.append(conn)
        issue(conn)
        return conn

    conns = [await _open(port, on_response, on_lost) for _ in range(concurrency)]
    cpu0 = time.process_time()
    started = time.perf_counter()
    for conn in list(conns):
        issue(conn)
    try:
        await asyncio.wait_for(finished, timeout)
    except TimeoutError:
        result.completed = False
        last_answer = time.perf_counter()
    result.elapsed = max(last_answer - started, 1e-9)
    result.client_cpu = (time.process_time() - cpu0) / result.elapsed
    for conn in conns:
        conn.close()
    for task in reconnects:
        task.cancel()
    return result


async def paced_loop(
    port: int,
    requests: list[bytes],
    sizes: list[int],
    rate: float,
    concurrency: int,
    on_started: Callable[[], None],
    should_stop: Callable[[], bool],
    max_seconds: float,
) -> LoadResult:
    """Open-loop load: request k is due at start + k/rate (requests/s), cycling `requests`,
    each connection sending its next due request once the previous one is answered."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    counter = 0

    def issue(conn: _Conn) -> None:
        nonlocal counter
        if conn.closing:
            return
        due = started + counter / rate
        index = counter % len(requests)
        counter += 1
        delay = due - loop.time()
        if delay > 0:
            loop.call_later(delay, _send, conn, index)
        else:
            _send(conn, index)

    def _send(conn: _Conn, index: int) -> None:
        if not conn.closing:
            conn.send(index, requests[index])

    def on_response(conn: _Conn, status: int) -> None:
        index = conn.pending
        if index is None:
            return
        conn.pending = None
        if 200 <= status < 300:
            result.requests += 1
            result.alerts += sizes[index]
        else:
            result.errors[f"HTTP {status}"] += 1
        issue(conn)

    def on_lost(conn: _Conn) -> None:
        result.errors["connection lost"] += 1
        conn.closing = True

    conns = [await _open(port, on_response, on_lost) for _ in range(concurrency)]
    started = loop.time()
    for conn in conns:
        issue(conn)
    on_started()
    while not should_stop() and loop.time() - started < max_seconds:
        await asyncio.sleep(0.05)
    result.elapsed = loop.time() - started
    for conn in conns:
        conn.close()
    return result


def background_main(
    port: int,
    path: str,
    shape: str,
    spec: tuple[str, int, float],
    rate: int,
    batch: int,
    events: tuple[Any, Any],
    out: Any,
    seconds: float,
) -> None:
    """Background load process: `rate` alerts/s of the alert stream `spec` (tag, groups,
    duplicates), repeating after ten seconds' worth, from the time it sets `ready` until `stop`
    is set; then puts its figures on `out`."""
    die_with_parent()
    ready, stop = events
    tag, groups, duplicates = spec
    stream = alert_stream(tag, max(rate * 10, 1000), groups, duplicates)
    requests, sizes = encode(port, path, shape, stream, batch)
    result = asyncio.run(
        paced_loop(port, requests, sizes, rate / batch, 8, ready.set, stop.is_set, seconds)
    )
    out.put({"alerts": result.alerts, "elapsed": result.elapsed, "errors": dict(result.errors)})


def encode(
    port: int, path: str, shape: str, stream: list[Alert], batch: int
) -> tuple[list[bytes], list[int]]:
    """Requests carrying `stream` in batches: `shape` "api" (Alertmanager's API) or "webhook"."""
    requests: list[bytes] = []
    sizes: list[int] = []
    for start in range(0, len(stream), batch):
        chunk = stream[start : start + batch]
        requests.append(http_request(port, path, body_for(shape, chunk)))
        sizes.append(len(chunk))
    return requests, sizes


def wait_ready(port: int, path: str, server: Server | None, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server is not None and not server.alive():
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        client = BlockingClient(port, timeout=2)
        try:
            if client.get(path)[0] == 200:
                return
        except OSError:
            pass
        finally:
            client.close()
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered 200 at 127.0.0.1:{port}{path} within {seconds:.0f}s")
