"""Alert ingestion benchmark: Prometheus Alertmanager against warroom's Alertmanager hook.

Runs, one after the other on 127.0.0.1, a real Alertmanager (Debian's `prometheus-alertmanager`,
installed with apt-get if it is missing) and a real `warroom serve` on SQLite in a temporary
directory, each pinned to the same CPU, and sends both the same bounded alert streams from a
client pinned to the other CPU(s):

- throughput: N alerts (1,000 groups, 10% duplicates) posted over several keep-alive
  connections, in batches of 1 and of 100 -- to Alertmanager's `POST /api/v2/alerts` (a JSON list
  of alerts) and to warroom's `POST /hooks/alertmanager/{key}` (Alertmanager's version 4 webhook
  payload: one alert per payload at batch 1, 100 alerts per payload at batch 100). Each round
  starts a fresh server, warms it up, then times the stream; the median of the rounds is shown.
  warroom answers once alerts are committed and ingests them (incidents, routing) right
  after, so for it the round also shows "accepted and ingested": alerts over the time until
  `GET /api/v1/alerts/intake` shows none pending.
- latency, idle and under a background load of about 2,000 alerts/s: serial probe alerts, each
  opening a group of its own, the next sent BENCH_PROBE_GAP after the last one arrived (100
  ms: ten new groups a second; 10 ms apart, the probes' own incidents kept warroom busy most
  of the time, idle too, so that the load measured under was theirs as much as the
  background's). For Alertmanager: from sending the POST to the arrival, at a local
  webhook sink, of the notification carrying the probe (`group_wait: 0s`). For warroom: from
  sending the POST to the arrival at the same sink of the first signed outbound webhook
  carrying the probe (subscribed to `alert.firing`, sent once the request is committed, and
  `incident.triggered`, sent once its incident is declared), to the arrival of its
  `incident.triggered`, and to its 2xx answer (2xx means committed). A BENCH_WARROOM_HOOK
  server is measured to 2xx only.
- peak RSS: VmHWM of each server's processes, the largest over its runs.

Before each timed part it waits (at most 15 s) for the CPUs to fall quiet, and for each
throughput round it prints the CPU share the server and the client used, and what other
processes took of those CPUs; a run on a busy machine is flagged as disturbed. A client CPU
near 100% means the figure is bounded by the load generator, not the server.

Run:  make bench-ingest        (or: .venv/bin/python bench/bench_ingest.py)

Environment (all optional):
  BENCH_ALERTS=20000            alerts per throughput round
  BENCH_ROUNDS=3                rounds per throughput scenario (fresh server each)
  BENCH_GROUPS=1000             alert groups (alertname x service)
  BENCH_DUPLICATES=0.10         share of alerts repeating an alert sent earlier
  BENCH_CONCURRENCY=16          client connections in the throughput runs
  BENCH_PROBES=300              latency probes per condition (idle, loaded)
  BENCH_PROBE_GAP=0.1           seconds from one probe's arrival to the next probe
  BENCH_BACKGROUND_RATE=2000    alerts/s of background load during the loaded probes
  BENCH_BACKGROUND_BATCH=1      alerts per background request
  BENCH_WARMUP=500              alerts sent (batch 1) to a fresh server before timing
  BENCH_GROUP_INTERVAL=1s       Alertmanager's group_interval
  BENCH_PHASE_SECONDS=60        time bound of each timed phase
  BENCH_MAX_SECONDS=1500        time bound of the whole run
  BENCH_SERVER_CPUS=1           CPUs the servers run on ("" = no pinning; default: the last)
  BENCH_CLIENT_CPUS=0           CPUs the load generator and the sink run on (default: the rest)
  BENCH_SYSTEMS=alertmanager,warroom
  BENCH_ALERTMANAGER=path       Alertmanager binary (default: prometheus-alertmanager on PATH)
  BENCH_WARROOM_HOOK=url        use an already running warroom at this hook URL instead of
                                starting one (BENCH_WARROOM_PID names its process for RSS)
  BENCH_JSON=path               also write the figures as JSON (with each probe's latency)
  BENCH_KEEP=1                  keep the temporary directory (configs, server logs)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ingest.alerts import GROUP_BY, PROBE_LABEL, alert_stream, body_for, probe_alert
from ingest.load import (
    HOST,
    BlockingClient,
    LoadResult,
    background_main,
    closed_loop,
    encode,
    free_port,
    http_request,
    wait_ready,
)
from ingest.procs import Server, Watched, cpu_seconds, cpus_busy, listening_pid
from ingest.sink import sink_main

# --------------------------------------------------------------------------- configuration


def _cpus(name: str, server: bool) -> set[int]:
    """CPUs from a "0,1" list; by default the last allowed CPU for the servers and the rest for
    the client side, or no pinning at all on a single CPU."""
    text = os.environ.get(name)
    if text is None:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return set()
        return {cpus[-1]} if server else set(cpus[:-1])
    return {int(part) for part in text.split(",") if part.strip()}


@dataclass(frozen=True)
class Config:
    alerts: int
    rounds: int
    groups: int
    duplicates: float
    concurrency: int
    probes: int
    background_rate: int
    background_batch: int
    warmup: int
    group_interval: str
    phase_seconds: float
    max_seconds: int
    server_cpus: set[int]
    client_cpus: set[int]
    systems: tuple[str, ...]
    keep: bool
    run: str  # in every alert's labels, so that two runs against one warroom never collide
    probe_gap: float  # seconds between a probe's answer and the next probe

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ.get
        return cls(
            alerts=int(env("BENCH_ALERTS", "20000")),
            rounds=int(env("BENCH_ROUNDS", "3")),
            groups=int(env("BENCH_GROUPS", "1000")),
            duplicates=float(env("BENCH_DUPLICATES", "0.10")),
            concurrency=int(env("BENCH_CONCURRENCY", "16")),
            probes=int(env("BENCH_PROBES", "300")),
            probe_gap=float(env("BENCH_PROBE_GAP", "0.1")),
            background_rate=int(env("BENCH_BACKGROUND_RATE", "2000")),
            background_batch=int(env("BENCH_BACKGROUND_BATCH", "1")),
            warmup=int(env("BENCH_WARMUP", "500")),
            group_interval=env("BENCH_GROUP_INTERVAL", "1s"),
            phase_seconds=float(env("BENCH_PHASE_SECONDS", "60")),
            max_seconds=int(env("BENCH_MAX_SECONDS", "1500")),
            server_cpus=_cpus("BENCH_SERVER_CPUS", server=True),
            client_cpus=_cpus("BENCH_CLIENT_CPUS", server=False),
            systems=tuple(
                s.strip()
                for s in env("BENCH_SYSTEMS", "alertmanager,warroom").split(",")
                if s.strip()
            ),
            keep=env("BENCH_KEEP", "") not in ("", "0"),
            run=f"{int(time.time()) % 1_000_000:06d}",
        )


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- the two servers

WEBHOOK_SECRET = "whsec_YmVuY2gtc2luay1zZWNyZXQtMDEyMzQ1Njc4OQ=="  # the sink does not verify


@dataclass
class Target:
    """A server to load: where to post, in which shape, and what can be seen of it."""

    name: str
    port: int
    path: str
    shape: str  # "api": Alertmanager's POST /api/v2/alerts; "webhook": its webhook payload
    watched: Watched | None  # None: a warroom we did not start and whose process is unknown
    notifies: bool  # True: the latency probe waits for the webhook at the sink (Alertmanager)
    server: Server | None = None  # None: a warroom we did not start
    token: str | None = None  # warroom: a viewer token, to ask its intake what is left


def wait_ingested(cfg: Config, target: Target, started: float) -> float | None:
    """warroom answers once alerts are committed and ingests them right after: the seconds
    from the round's start until GET /api/v1/alerts/intake shows none pending (None when
    it cannot be asked, or the phase time bound passed first)."""
    if target.token is None:
        return None
    client = BlockingClient(target.port)
    deadline = time.monotonic() + cfg.phase_seconds * 4
    header = f"Authorization: Bearer {target.token}\r\n"
    try:
        while time.monotonic() < deadline:
            status, body = client.send(
                http_request(target.port, "/api/v1/alerts/intake", method="GET", headers=header)
            )
            if status != 200:
                return None
            if json.loads(body)["pending"] == 0:
                return time.monotonic() - started
            time.sleep(0.01)
    finally:
        client.close()
    return None


Starter = Callable[[contextlib.ExitStack], Target | str]


@dataclass
class Harness:
    """The benchmark's own side: the sink process and how to start more processes."""

    sink: Connection  # probe arrivals from the sink
    sink_pid: int
    mp: Any  # the multiprocessing context

    def pids(self) -> list[int]:
        return [os.getpid(), self.sink_pid]


def ensure_alertmanager() -> str:
    explicit = os.environ.get("BENCH_ALERTMANAGER")
    if explicit:
        return explicit
    found = shutil.which("prometheus-alertmanager")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise RuntimeError(
            "prometheus-alertmanager is not installed; run: apt-get install -y "
            "prometheus-alertmanager (or set BENCH_ALERTMANAGER to its binary)"
        )
    log("  prometheus-alertmanager is not on PATH: apt-get install -y prometheus-alertmanager")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-q", "prometheus-alertmanager"]
    if subprocess.run(install, env=env, check=False, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, timeout=600)
        subprocess.run(install, env=env, check=True, timeout=600)
    found = shutil.which("prometheus-alertmanager")
    if not found:
        raise RuntimeError("apt-get installed prometheus-alertmanager but it is not on PATH")
    return found


def alertmanager_starter(cfg: Config, workdir: Path, sink_port: int) -> Starter:
    binary = ensure_alertmanager()
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    log(f"  {((version.stdout or version.stderr).splitlines() or ['?'])[0]}")
    config = workdir / "alertmanager.yml"
    config.write_text(
        "route:\n"
        "  receiver: sink\n"
        f"  group_by: [{', '.join(GROUP_BY)}]\n"
        "  group_wait: 0s\n"
        f"  group_interval: {cfg.group_interval}\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: sink\n"
        "    webhook_configs:\n"
        f"      - url: http://{HOST}:{sink_port}/alertmanager\n"
        "        send_resolved: true\n"
    )
    runs = 0

    def start(stack: contextlib.ExitStack) -> Target:
        nonlocal runs
        runs += 1
        storage = workdir / f"data-{runs}"
        port = free_port()
        server = Server(
            "alertmanager",
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={storage}",
                f"--web.listen-address={HOST}:{port}",
                "--cluster.listen-address=",
            ],
            dict(os.environ),
            cfg.server_cpus,
            workdir / f"alertmanager-{runs}.log",
        )
        stack.callback(server.stop)
        wait_ready(port, "/-/ready", server)
        return Target(
            "alertmanager",
            port,
            "/api/v2/alerts",
            "api",
            Watched("alertmanager", server.pids),
            notifies=True,
            server=server,
        )

    return start


def warroom_cmd() -> list[str]:
    return [sys.executable, "-m", "warroom"]


def warroom_starter(cfg: Config, workdir: Path, notes: list[str], sink_port: int) -> Starter | str:
    """Starts a fresh warroom with an Alertmanager integration; or why it cannot."""
    hook = os.environ.get("BENCH_WARROOM_HOOK")
    if hook:
        match = re.fullmatch(r"http://(?:127\.0\.0\.1|localhost):(\d+)(/\S+)", hook)
        if not match:
            return f"BENCH_WARROOM_HOOK must be http://127.0.0.1:PORT/hooks/...; got {hook!r}"
        port, path = int(match.group(1)), match.group(2)
        pid_text = os.environ.get("BENCH_WARROOM_PID")
        pid = int(pid_text) if pid_text else listening_pid(port)
        log(f"  using the running warroom at {hook} (pid {pid or 'unknown'}; not restarted")
        log("  between rounds, not pinned by this benchmark)")
        watched = Watched("warroom", lambda: [pid]) if pid else None
        notes.append(
            f"benchmarked the running warroom at {hook}: one server for every round, pinned "
            "where its starter put it, its database whatever it was started with"
        )
        return lambda _stack: Target("warroom", port, path, "webhook", watched, notifies=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    check = subprocess.run(
        [*warroom_cmd(), "integration", "create", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check.returncode != 0:
        lines = [line.strip(" │╭╮╰╯─") for line in (check.stderr + check.stdout).splitlines()]
        said = [line for line in lines if re.search(r"no such|error|no module", line, re.I)]
        why = said[0] if said else f"exit code {check.returncode}"
        return (
            f"this warroom has no `warroom integration create` yet ({why}); "
            "set BENCH_WARROOM_HOOK=http://127.0.0.1:PORT/hooks/alertmanager/KEY to benchmark "
            "a running warroom"
        )
    runs = 0

    def start(stack: contextlib.ExitStack) -> Target | str:
        nonlocal runs
        runs += 1
        home = workdir / f"run-{runs}"
        home.mkdir()
        port = free_port()
        channels = home / "channels.yaml"
        channels.write_text(
            "webhooks:\n"
            "  - name: bench-sink\n"
            f"    url: http://{HOST}:{sink_port}/warroom\n"
            f"    secret: {WEBHOOK_SECRET}\n"
            "    events: [alert.firing, incident.triggered]\n"
        )
        run_env = dict(
            env,
            WARROOM_CHANNELS_FILE=str(channels),
            WARROOM_DATABASE_URL=f"sqlite:///{home / 'warroom.db'}",
            WARROOM_DATA_DIR=str(home),
            WARROOM_HOST=HOST,
            WARROOM_PORT=str(port),
        )
        outputs = []
        for argv in (
            ["db", "upgrade"],
            ["integration", "create", "--name", f"bench-ingest-{runs}", "--kind", "alertmanager"],
            ["token", "create", "--name", f"bench-ingest-{runs}", "--role", "viewer"],
        ):
            done = subprocess.run(
                [*warroom_cmd(), *argv],
                env=run_env,
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            if done.returncode != 0:
                return f"`warroom {' '.join(argv)}` failed: {(done.stderr or done.stdout).strip()}"
            outputs.append(done.stdout)
        found = re.search(r"/hooks/alertmanager/[^\s\"'<>]+", outputs[1])
        if not found:
            return f"no /hooks/alertmanager/<key> in `warroom integration create`: {outputs[1]!r}"
        token = re.search(r"\bwr_[A-Za-z0-9_-]+", outputs[2])
        server = Server(
            "warroom",
            [*warroom_cmd(), "serve", "--port", str(port)],
            run_env,
            cfg.server_cpus,
            home / "warroom.log",
        )
        stack.callback(server.stop)
        wait_ready(port, "/healthz", server)
        return Target(
            "warroom",
            port,
            found.group(0),
            "webhook",
            Watched("warroom", server.pids),
            notifies=True,
            server=server,
            token=token.group(0) if token else None,
        )

    return start


def alertmanager_received(port: int) -> int | None:
    """Alertmanager's own count of the alerts it received (alertmanager_alerts_received_total)."""
    client = BlockingClient(port)
    try:
        status, body = client.get("/metrics")
    except OSError:
        return None
    finally:
        client.close()
    if status != 200:
        return None
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("alertmanager_alerts_received_total"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


# --------------------------------------------------------------------------- measurements


def warm_up(cfg: Config, target: Target) -> None:
    """A few hundred alerts first, so that no run times a cold server; then wait for calm."""
    if cfg.warmup:
        warm = alert_stream(f"{cfg.run}w", cfg.warmup, min(cfg.groups, 100), cfg.duplicates)
        requests, sizes = encode(target.port, target.path, target.shape, warm, 1)
        asyncio.run(closed_loop(target.port, requests, sizes, 4, cfg.phase_seconds))
    if target.watched:
        waited = target.watched.settle(cfg.server_cpus | cfg.client_cpus)
        if waited > 5:
            log(f"  (waited {waited:.0f}s for the CPUs to fall quiet)")


def throughput(
    cfg: Config, target: Target, harness: Harness, requests: list[bytes], sizes: list[int]
) -> LoadResult:
    """Time `requests` (carrying `sizes` alerts each) over `cfg.concurrency` connections, and
    how busy the server's and the client's CPUs were, by us and by anything else."""
    server0 = target.watched.cpu() if target.watched else 0.0
    ours0 = cpu_seconds(harness.pids())
    server_busy0, client_busy0 = cpus_busy(cfg.server_cpus), cpus_busy(cfg.client_cpus)
    result = asyncio.run(
        closed_loop(target.port, requests, sizes, cfg.concurrency, cfg.phase_seconds)
    )
    elapsed = result.elapsed
    if target.watched:
        result.server_cpu = (target.watched.cpu() - server0) / elapsed
        if cfg.server_cpus:
            busy = (cpus_busy(cfg.server_cpus) - server_busy0) / elapsed
            result.others_cpu = max(0.0, busy - result.server_cpu)
    if cfg.client_cpus:
        busy = (cpus_busy(cfg.client_cpus) - client_busy0) / elapsed
        ours = (cpu_seconds(harness.pids()) - ours0) / elapsed
        result.others_client_cpu = max(0.0, busy - ours)
    return result


@dataclass
class Latency:
    to_2xx: list[float] = field(default_factory=list)  # ms
    to_sink: list[float] = field(default_factory=list)  # ms, to the first notification
    to_incident: list[float] = field(default_factory=list)  # ms, to warroom's incident.triggered
    lost: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    background: float = 0.0  # alerts/s the background load achieved
    background_errors: dict[str, int] = field(default_factory=dict)


def probe_latency(
    cfg: Config, target: Target, sink: Connection | None, tag: str, result: Latency
) -> None:
    """Serial probes, each opening a group of its own: POST->2xx, and POST->sink when `sink`.
    This process's garbage collector is off meanwhile: it holds the throughput rounds'
    requests, and a full collection between a probe's clock reading and its send would be
    counted against the server."""
    gc.collect()
    gc.disable()
    try:
        _probe_latency(cfg, target, sink, tag, result)
    finally:
        gc.enable()


def _probe_latency(
    cfg: Config, target: Target, sink: Connection | None, tag: str, result: Latency
) -> None:
    client = BlockingClient(target.port)
    arrivals: dict[str, int] = {}  # probe -> its first notification's arrival
    incidents: dict[str, int] = {}  # probe -> its incident.triggered's arrival (warroom)
    sent_at: dict[str, int] = {}
    deadline = time.monotonic() + cfg.phase_seconds
    try:
        for number in range(cfg.probes):
            if time.monotonic() > deadline:
                result.failed["phase time bound reached"] += cfg.probes - number
                break
            alert = probe_alert(tag, number)
            probe_id = alert.labels[PROBE_LABEL]
            request = http_request(target.port, target.path, body_for(target.shape, [alert]))
            sent = time.monotonic_ns()
            try:
                status, _ = client.send(request)
            except OSError as exc:
                result.failed[type(exc).__name__] += 1
                continue
            answered = time.monotonic_ns()
            if not 200 <= status < 300:
                result.failed[f"HTTP {status}"] += 1
                continue
            result.to_2xx.append((answered - sent) / 1e6)
            sent_at[probe_id] = sent
            if sink is not None:
                wait_until = time.monotonic() + 2.0
                while probe_id not in arrivals and sink.poll(max(0, wait_until - time.monotonic())):
                    _arrived(sink.recv(), arrivals, incidents)
                if probe_id in arrivals:
                    result.to_sink.append((arrivals[probe_id] - sent) / 1e6)
                else:
                    result.lost += 1
            time.sleep(cfg.probe_gap)
    finally:
        client.close()
    if sink is not None and incidents:  # warroom: its incident.triggered come after
        wait_until = time.monotonic() + 2.0
        while not sent_at.keys() <= incidents.keys() and sink.poll(
            max(0, wait_until - time.monotonic())
        ):
            _arrived(sink.recv(), arrivals, incidents)
        late = [(incidents[p] - sent) / 1e6 for p, sent in sent_at.items() if p in incidents]
        result.to_incident = late


def _arrived(
    received: tuple[str, int, str], arrivals: dict[str, int], incidents: dict[str, int]
) -> None:
    probe, at, kind = received
    arrivals.setdefault(probe, at)
    if kind == "incident.triggered":
        incidents.setdefault(probe, at)


def loaded_latency(
    cfg: Config, target: Target, sink: Connection | None, tag: str, ctx: Any
) -> Latency:
    """Probes while another process sends `background_rate` alerts/s to the same server."""
    result = Latency()
    ready, stop = ctx.Event(), ctx.Event()
    out = ctx.Queue()
    background = ctx.Process(
        target=background_main,
        args=(
            target.port,
            target.path,
            target.shape,
            (f"{tag}bg", cfg.groups, cfg.duplicates),
            cfg.background_rate,
            cfg.background_batch,
            (ready, stop),
            out,
            cfg.phase_seconds + 30,
        ),
        daemon=True,
    )
    background.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the background load did not start")
        time.sleep(1.0)  # let the server reach a steady state under the load
        probe_latency(cfg, target, sink, tag, result)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            figures = out.get(timeout=30)
            result.background = figures["alerts"] / max(figures["elapsed"], 1e-9)
            result.background_errors = figures["errors"]
        background.join(timeout=10)
        if background.is_alive():
            background.kill()
            background.join(timeout=5)
    return result


@dataclass
class SystemResult:
    name: str
    skipped: str | None = None
    error: str | None = None
    throughput: dict[int, list[LoadResult]] = field(default_factory=dict)
    idle: Latency | None = None
    loaded: Latency | None = None
    peak_rss: int = 0
    notes: list[str] = field(default_factory=list)
    ingested: dict[int, list[float]] = field(default_factory=dict)  # warroom: alerts/s

    def rate(self, batch: int) -> float | None:
        rounds = self.throughput.get(batch)
        return statistics.median(r.rate for r in rounds) if rounds else None


def run_system(cfg: Config, start: Starter, harness: Harness, result: SystemResult) -> None:
    for batch in (1, 100):
        for round_number in range(1, cfg.rounds + 1):
            with contextlib.ExitStack() as stack:
                target = start(stack)
                if isinstance(target, str):
                    result.skipped = target
                    log(f"  skipped: {target}")
                    return
                with server_log_on_error(target):
                    tag = f"{cfg.run}b{batch}r{round_number}"
                    stream = alert_stream(tag, cfg.alerts, cfg.groups, cfg.duplicates)
                    requests, sizes = encode(target.port, target.path, target.shape, stream, batch)
                    warm_up(cfg, target)
                    started = time.monotonic()
                    figures = throughput(cfg, target, harness, requests, sizes)
                    result.throughput.setdefault(batch, []).append(figures)
                    log(f"  batch {batch:>3} round {round_number}: {describe_load(figures)}")
                    ingested = wait_ingested(cfg, target, started)
                    if ingested is not None:
                        rate = figures.alerts / ingested
                        result.ingested.setdefault(batch, []).append(rate)
                        log(
                            f"  batch {batch:>3} round {round_number}: {rate:,.0f} alerts/s "
                            f"accepted and ingested (none pending after {ingested:.2f}s)"
                        )
                    if target.name == "alertmanager":
                        check_alertmanager_count(cfg, target, figures, result)
                    record_rss(target, result)
    with contextlib.ExitStack() as stack:
        target = start(stack)
        if isinstance(target, str):
            result.skipped = target
            return
        with server_log_on_error(target):
            warm_up(cfg, target)
            probe_sink = harness.sink if target.notifies else None
            result.idle = Latency()
            probe_latency(cfg, target, probe_sink, f"{cfg.run}i", result.idle)
            log(f"  latency idle:   {describe_latency(result.idle)}")
            if target.watched:
                target.watched.settle(cfg.server_cpus | cfg.client_cpus)
            result.loaded = loaded_latency(cfg, target, probe_sink, f"{cfg.run}l", harness.mp)
            log(f"  latency loaded: {describe_latency(result.loaded)}")
            record_rss(target, result)
    if result.peak_rss:
        log(f"  peak RSS (VmHWM): {result.peak_rss / 1e6:,.1f} MB")


@contextlib.contextmanager
def server_log_on_error(target: Target) -> Any:
    try:
        yield
    except Exception:
        if target.server is not None:
            log(f"  last lines of {target.server.log_path}:\n{target.server.log_tail()}")
        raise


def record_rss(target: Target, result: SystemResult) -> None:
    if target.watched:
        result.peak_rss = max(result.peak_rss, target.watched.peak_rss())


def check_alertmanager_count(
    cfg: Config, target: Target, figures: LoadResult, result: SystemResult
) -> None:
    received = alertmanager_received(target.port)
    expected = cfg.warmup + figures.alerts
    if received is not None and received != expected:
        result.notes.append(
            f"Alertmanager counted {received:,} alerts received where {expected:,} were accepted"
        )


def describe_load(figures: LoadResult) -> str:
    return (
        f"{figures.rate:>9,.0f} alerts/s accepted ({figures.alerts:,} alerts in "
        f"{figures.requests:,} requests, {figures.elapsed:.2f}s; server CPU "
        f"{figures.server_cpu:.0%} + others {figures.others_cpu:.0%}, client CPU "
        f"{figures.client_cpu:.0%} + others {figures.others_client_cpu:.0%})"
        + (f"; errors {dict(figures.errors)}" if figures.errors else "")
        + ("" if figures.completed else "; STOPPED at the phase time bound")
    )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered) - 1e-9) - 1))]


def p50_p99(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"{percentile(values, 0.50):.2f} / {percentile(values, 0.99):.2f}"


def describe_latency(lat: Latency) -> str:
    parts = [f"POST->2xx p50/p99 {p50_p99(lat.to_2xx)} ms"]
    if lat.to_sink or lat.lost:
        parts.append(f"POST->sink p50/p99 {p50_p99(lat.to_sink)} ms")
    if lat.to_incident:
        parts.append(f"POST->incident.triggered p50/p99 {p50_p99(lat.to_incident)} ms")
    parts.append(f"n={len(lat.to_2xx)}")
    if lat.background:
        parts.append(f"background {lat.background:,.0f} alerts/s")
    if lat.background_errors:
        parts.append(f"background errors {lat.background_errors}")
    if lat.lost:
        parts.append(f"{lat.lost} never reached the sink within 2 s")
    if lat.failed:
        parts.append(f"failed {dict(lat.failed)}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- report


def report(
    cfg: Config, results: dict[str, SystemResult], sink_stats: dict[str, int], load: str
) -> None:
    am, wr = results.get("alertmanager"), results.get("warroom")
    shown = [r for r in (am, wr) if r is not None]
    ran = [r for r in shown if not r.skipped]
    width = 80
    print()
    print("=" * width)
    print("Alert ingestion: warroom vs Prometheus Alertmanager")
    print(
        f"{os.cpu_count()} CPUs ({load}); servers on CPU {sorted(cfg.server_cpus) or 'any'}, "
        f"client and sink on CPU {sorted(cfg.client_cpus) or 'any'}\n"
        f"{cfg.alerts:,} alerts per round, {cfg.rounds} round(s), {cfg.groups:,} groups, "
        f"{cfg.duplicates:.0%} duplicates, {cfg.concurrency} connections; Alertmanager "
        f"group_wait 0s, group_interval {cfg.group_interval}, in memory; warroom durable"
    )
    print("-" * width)
    print("Throughput: alerts/s accepted (alerts in 2xx-answered requests / wall time),")
    print("median of the rounds [slowest - fastest]")
    print(f"{'':<22}{'batch 1':>28}{'batch 100':>28}")
    for r in shown:
        cells = []
        for batch in (1, 100):
            rounds = r.throughput.get(batch)
            if r.skipped:
                cells.append("skipped")
            elif not rounds:
                cells.append("-")
            else:
                rates = [x.rate for x in rounds]
                cells.append(f"{r.rate(batch):,.0f} [{min(rates):,.0f} - {max(rates):,.0f}]")
        print(f"{r.name:<22}{cells[0]:>28}{cells[1]:>28}")
        if r.ingested:
            done = [
                f"{statistics.median(r.ingested[b]):,.0f}" if r.ingested.get(b) else "-"
                for b in (1, 100)
            ]
            print(f"{'  and ingested':<22}{done[0]:>28}{done[1]:>28}")
    if am and wr and not am.skipped and not wr.skipped:
        ratios = []
        for batch in (1, 100):
            a, w = am.rate(batch), wr.rate(batch)
            ratios.append(f"{w / a:.2f}" if a and w is not None else "-")
        print(f"{'warroom/alertmanager':<22}{ratios[0]:>28}{ratios[1]:>28}   (target >= 1.0)")
    if ran:
        report_latency_and_rss(cfg, am, wr, ran, width)
    if sink_stats:
        print("-" * width)
        print(
            f"sink: {sink_stats.get('notifications', 0):,} webhook notifications from "
            f"Alertmanager, carrying {sink_stats.get('alerts', 0):,} alerts"
        )
    for r in ran:
        rounds = [t for runs in r.throughput.values() for t in runs]
        others = [max(t.others_cpu, t.others_client_cpu) for t in rounds]
        if others and max(others) > 0.1:
            print(
                f"{r.name}: other processes kept the server's or the client's CPU busy up to "
                f"{max(others):.0%} of the time in the throughput rounds: figures disturbed"
            )
        busy_client = [t for t in rounds if t.client_cpu > 0.85]
        if busy_client:
            print(
                f"{r.name}: the client used up to {max(t.client_cpu for t in busy_client):.0%} "
                "of its CPU: those rounds may be bounded by the client, not the server"
            )
    for r in shown:
        if r.skipped:
            print(f"{r.name} skipped: {r.skipped}")
        if r.error:
            print(f"{r.name} FAILED: {r.error}")
        for note in r.notes:
            print(f"{r.name}: {note}")
    print("=" * width)


def report_latency_and_rss(
    cfg: Config,
    am: SystemResult | None,
    wr: SystemResult | None,
    ran: list[SystemResult],
    width: int,
) -> None:
    print("-" * width)
    print(
        "Latency, ms, p50 / p99, serial probes each opening a new group, "
        f"{cfg.probe_gap * 1000:g} ms apart"
    )
    print(f"{'':<44}{'idle':>16}{'loaded':>16}")
    rows: list[tuple[str, SystemResult, str]] = []
    if am in ran:
        rows.append(("alertmanager POST -> webhook at the sink", am, "to_sink"))
        rows.append(("alertmanager POST -> 2xx (for reference)", am, "to_2xx"))
    notified = wr in ran and any(lat and lat.to_sink for lat in (wr.idle, wr.loaded))
    if notified:
        rows.append(("warroom POST -> first webhook at the sink", wr, "to_sink"))
    if wr in ran and any(lat and lat.to_incident for lat in (wr.idle, wr.loaded)):
        rows.append(("warroom POST -> its incident.triggered", wr, "to_incident"))
    if wr in ran:
        rows.append(("warroom POST -> 2xx (alerts committed)", wr, "to_2xx"))
    for label, r, attr in rows:
        cells = [p50_p99(getattr(lat, attr)) if lat else "-" for lat in (r.idle, r.loaded)]
        print(f"{label:<44}{cells[0]:>16} {cells[1]:>15}")  # a space even when wider
    for r in ran:
        if r.loaded:
            print(
                f"  loaded: {r.name} took {r.loaded.background:,.0f} alerts/s of background "
                f"load (asked {cfg.background_rate:,}/s, batch {cfg.background_batch})"
            )
    print("  target: POST -> first notification p99 <= 5 ms under the background load")
    if wr in ran and not notified:
        print("  warroom was measured to 2xx only (no webhook reached the sink)")
    print("-" * width)
    print("Peak RSS: VmHWM of the server's processes, largest over its runs (target for")
    print("warroom <= 150 MB)")
    for r in ran:
        rss = f"{r.peak_rss / 1e6:,.1f} MB" if r.peak_rss else "unknown"
        print(f"{r.name:<22}{rss:>28}")


def to_json(cfg: Config, results: dict[str, SystemResult]) -> dict[str, Any]:
    def lat(value: Latency | None) -> dict[str, Any] | None:
        if value is None:
            return None
        out: dict[str, Any] = {"background_alerts_per_s": round(value.background, 1)}
        for name in ("to_2xx", "to_sink", "to_incident"):
            samples = getattr(value, name)
            if samples:
                out[name] = {
                    "p50_ms": round(percentile(samples, 0.5), 3),
                    "p99_ms": round(percentile(samples, 0.99), 3),
                    "n": len(samples),
                    "samples_ms": [round(x, 2) for x in samples],  # in the order sent
                }
        return out

    return {
        "config": {
            "alerts": cfg.alerts,
            "rounds": cfg.rounds,
            "groups": cfg.groups,
            "duplicates": cfg.duplicates,
            "concurrency": cfg.concurrency,
            "group_interval": cfg.group_interval,
            "background_rate": cfg.background_rate,
            "probes": cfg.probes,
            "probe_gap": cfg.probe_gap,
            "server_cpus": sorted(cfg.server_cpus),
            "client_cpus": sorted(cfg.client_cpus),
        },
        "systems": {
            name: {
                "skipped": r.skipped,
                "error": r.error,
                "throughput_alerts_per_s": {
                    str(b): round(r.rate(b) or 0.0, 1) for b in r.throughput
                },
                "rounds": {
                    str(b): [
                        {
                            "alerts_per_s": round(t.rate, 1),
                            "alerts": t.alerts,
                            "errors": dict(t.errors),
                            "server_cpu": round(t.server_cpu, 3),
                            "client_cpu": round(t.client_cpu, 3),
                            "others_on_server_cpu": round(t.others_cpu, 3),
                            "others_on_client_cpu": round(t.others_client_cpu, 3),
                        }
                        for t in rounds
                    ]
                    for b, rounds in r.throughput.items()
                },
                "latency_idle": lat(r.idle),
                "latency_loaded": lat(r.loaded),
                "peak_rss_bytes": r.peak_rss or None,
                "notes": r.notes,
            }
            for name, r in results.items()
        },
    }


# --------------------------------------------------------------------------- main


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _raise_timeout(_signum: int, _frame: Any) -> None:
    raise TimeoutError("the benchmark ran past BENCH_MAX_SECONDS")


def load_average() -> str:
    with contextlib.suppress(OSError):
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "load average unknown"


def main() -> int:
    cfg = Config.from_env()
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGALRM, _raise_timeout)
    signal.alarm(cfg.max_seconds)
    if cfg.client_cpus:
        os.sched_setaffinity(0, cfg.client_cpus)  # the sink and background load inherit it
    load_before = load_average()
    log(f"bench-ingest: {load_before}")
    if cfg.server_cpus:
        busy = cpus_busy(cfg.server_cpus)
        time.sleep(1.0)
        busy = cpus_busy(cfg.server_cpus) - busy
        log(
            f"  the server CPU {sorted(cfg.server_cpus)} was {busy:.0%} busy before the start"
            + (": other processes will disturb the figures" if busy > 0.1 else "")
        )
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, SystemResult] = {}
    sink_stats: dict[str, int] = {}
    workdir = Path(tempfile.mkdtemp(prefix="warroom-bench-ingest-"))
    with contextlib.ExitStack() as stack:
        if cfg.keep:
            stack.callback(log, f"kept {workdir}")
        else:
            stack.callback(shutil.rmtree, workdir, True)
        parent_end, child_end = ctx.Pipe()
        sink_port = free_port()
        sink = ctx.Process(target=sink_main, args=(sink_port, child_end), daemon=True)
        sink.start()
        stack.callback(stop_sink, sink, parent_end)
        if not parent_end.poll(60) or parent_end.recv()[0] != "ready":
            raise RuntimeError("the webhook sink did not start")
        assert sink.pid is not None
        harness = Harness(parent_end, sink.pid, ctx)
        for name in cfg.systems:
            result = results.setdefault(name, SystemResult(name))
            log(f"{name}:")
            system_dir = workdir / name
            system_dir.mkdir()
            try:
                if name == "alertmanager":
                    start: Starter | str = alertmanager_starter(cfg, system_dir, sink_port)
                elif name == "warroom":
                    start = warroom_starter(cfg, system_dir, result.notes, sink_port)
                else:
                    raise ValueError(f"unknown system {name!r} in BENCH_SYSTEMS")
                if isinstance(start, str):
                    result.skipped = start
                    log(f"  skipped: {start}")
                    continue
                run_system(cfg, start, harness, result)
            except Exception as exc:  # report what was measured, then the failure
                result.error = f"{type(exc).__name__}: {exc}"
                log(f"  FAILED: {result.error}")
        sink_stats = read_sink_stats(parent_end)
    signal.alarm(0)
    report(cfg, results, sink_stats, f"{load_before} before, {load_average()} after")
    if path := os.environ.get("BENCH_JSON"):
        Path(path).write_text(json.dumps(to_json(cfg, results), indent=2) + "\n")
    return 1 if any(r.error for r in results.values()) else 0


def read_sink_stats(conn: Connection) -> dict[str, int]:
    conn.send("stats")
    deadline = time.monotonic() + 10
    while conn.poll(max(0, deadline - time.monotonic())):
        message = conn.recv()
        if message[0] == "stats":
            return dict(message[1])
    return {}


def stop_sink(process: Any, conn: Connection) -> None:
    with contextlib.suppress(OSError, ValueError):
        conn.send("stop")
    process.join(timeout=5)
    if process.is_alive():
        process.terminate()
        process.join(timeout=5)


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
