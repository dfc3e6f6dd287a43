"""Where a slow loaded probe's time goes, told by the kernel's scheduler: a fresh `warroom serve`
on SQLite (pinned to CPU 1) takes `make bench-ingest`'s background load (BENCH_RATE lone
alerts/s from CPU 0) while BENCH_PROBES serial probes, each opening a group of its own, are
timed from their send to their 2xx. Meanwhile `perf record` (CLOCK_MONOTONIC, the probes'
clock) records every context switch and wake-up. For each probe slower than BENCH_SLOW_MS it
prints how the server's CPU was shared until the answer, and in all for those probes:

- event loop running: the server's main thread on the CPU (it reads, stores, answers);
- event loop ready, another server thread running: woken (by the request, or by the
  interpreter lock) or preempted, waiting for the scheduler to give it the CPU back;
- event loop asleep, another server thread running: waiting on the interpreter lock or a
  lock, or not yet woken by the request;
- other processes, idle.

Needs `perf` (Debian's linux-perf) and the right to trace (root, or kernel.perf_event_paranoid
<= -1). Not part of `make bench-ingest`: a diagnosis, not a figure.

Run:  .venv/bin/python bench/bench_sched.py
      (environment: BENCH_RATE=2000 BENCH_PROBES=300 BENCH_SLOW_MS=5)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_steady import LOAD_CPUS, SERVER_CPUS, start_load, start_warroom
from ingest.alerts import body_for, probe_alert
from ingest.load import BlockingClient, free_port, http_request, wait_ready

LINE = re.compile(r"^\s*(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):\s+(.*)$")
STATES = ("event loop running", "event loop ready, other server thread running")
STATES += ("event loop asleep, other server thread running", "other processes", "idle")


@dataclass
class Span:
    start: float
    end: float
    tid: int  # on the server's CPU (0: idle)
    loop_ready: bool  # the event loop waited for the CPU meanwhile


def parse(text: str, cpu: int, loop_tid: int) -> tuple[list[Span], set[int]]:
    """Who ran on ``cpu``, span by span, and whether the event loop was ready meanwhile; and
    the server's threads seen (``loop_tid`` is its process id)."""
    spans: list[Span] = []
    threads = {loop_tid}
    running, since, ready = 0, 0.0, False
    for line in text.splitlines():
        found = LINE.match(line)
        if not found:
            continue
        process, tid, on_cpu, at_text, event, trace = found.groups()
        if int(process) == loop_tid:
            threads.add(int(tid))
        at = float(at_text)
        if event == "sched_waking" and f" pid={loop_tid} " in f" {trace} ":
            if running != loop_tid and not ready:  # from now on it waits for the CPU
                spans.append(Span(since, at, running, False))
                since, ready = at, True
        elif event == "sched_switch" and int(on_cpu) == cpu:
            spans.append(Span(since, at, running, ready and running != loop_tid))
            fields = dict(re.findall(r"(\w+)=(\S+)", trace.replace(" ==> ", " ")))
            if int(fields["prev_pid"]) == loop_tid:
                ready = fields["prev_state"].startswith("R")  # preempted, not asleep
            running, since = int(fields["next_pid"]), at
    return spans[1:], threads


def shares(
    spans: list[Span], start: float, end: float, pid: int, threads: set[int]
) -> Counter[str]:
    """Milliseconds of ``[start, end]`` in each of STATES."""
    out: Counter[str] = Counter()
    for span in spans:
        overlap = min(span.end, end) - max(span.start, start)
        if overlap <= 0:
            continue
        if span.tid == pid:
            state = STATES[0]
        elif span.tid in threads:
            state = STATES[1] if span.loop_ready else STATES[2]
        else:
            state = STATES[4] if span.tid == 0 else STATES[3]
        out[state] += overlap * 1000
    return out


def probe(port: int, path: str, count: int) -> list[tuple[float, float]]:
    """(sent, answered) of each probe, CLOCK_MONOTONIC seconds."""
    client = BlockingClient(port)
    times = []
    try:
        for number in range(count):
            request = http_request(port, path, body_for("webhook", [probe_alert("sched", number)]))
            sent = time.monotonic()
            status, _ = client.send(request)
            if 200 <= status < 300:
                times.append((sent, time.monotonic()))
            time.sleep(0.01)
    finally:
        client.close()
    return times


def main() -> None:
    rate = int(os.environ.get("BENCH_RATE", "2000"))
    count = int(os.environ.get("BENCH_PROBES", "300"))
    slow_ms = float(os.environ.get("BENCH_SLOW_MS", "5"))
    perf = shutil.which("perf")
    if perf is None:
        raise SystemExit("bench_sched needs perf (Debian's linux-perf)")
    home = Path(tempfile.mkdtemp(prefix="warroom-sched-"))
    port = free_port()
    server, path = start_warroom(home, port)
    try:
        wait_ready(port, "/healthz", server)
        load, stop, _ = start_load(port, path, "sched", rate, 120)
        os.sched_setaffinity(0, LOAD_CPUS)
        time.sleep(1.0)
        record = [perf, "record", "-q", "-a", "-k", "CLOCK_MONOTONIC", "-o", str(home / "perf")]
        record += ["-e", "sched:sched_switch", "-e", "sched:sched_waking"]
        tracing = subprocess.Popen(record, stderr=subprocess.PIPE)
        time.sleep(0.5)
        times = probe(port, path, count)
        tracing.terminate()
        _, err = tracing.communicate(timeout=60)
        stop.set()
        load.join(timeout=30)
        if tracing.returncode not in (0, -15) or not (home / "perf").exists():
            raise SystemExit(f"perf record failed: {err.decode(errors='replace').strip()}")
        text = subprocess.run(
            [perf, "script", "-i", str(home / "perf"), "-F", "pid,tid,cpu,time,event,trace"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)  # the trace: tens of MB
    spans, threads = parse(text, min(SERVER_CPUS), server.pid)
    report(times, spans, server.pid, threads, slow_ms)


def report(
    times: list[tuple[float, float]], spans: list[Span], pid: int, threads: set[int], slow: float
) -> None:
    latencies = sorted((b - a) * 1000 for a, b in times)
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    slow_ones = [(a, b) for a, b in times if (b - a) * 1000 > slow]
    print(f"{len(times)} probes, POST -> 2xx p99 {p99:.2f} ms; {len(slow_ones)} over {slow} ms")
    total: Counter[str] = Counter()
    for sent, answered in slow_ones:
        share = shares(spans, sent, answered, pid, threads)
        total.update(share)
        parts = ", ".join(f"{state} {share[state]:.2f}" for state in STATES if share[state])
        print(f"  {(answered - sent) * 1000:6.2f} ms: {parts}")
    whole = sum(total.values()) or 1.0
    print("in all, over those probes:")
    for state in STATES:
        print(f"  {state:50s} {total[state]:8.2f} ms  {total[state] / whole:6.1%}")


if __name__ == "__main__":
    main()
