"""Fault injection for paging: many escalations at once, worker processes killed with
SIGKILL at random moments while they work and restarted, a real webhook receiver
counting the pages.

Used by tests/test_paging_faults.py (a short run) and bench/bench_paging_faults.py (the
full one). Waits are skipped by moving pending escalation steps' due time to now, so a
run takes seconds, not the policy's minutes.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, update

from tests.procs import WARROOM, warroom_env
from tests.receivers import SECRET, Receiver, start_receiver
from warroom import migrate
from warroom.clock import SystemClock
from warroom.incidents import changes
from warroom.incidents import service as incidents
from warroom.incidents.schemas import IncidentCreate
from warroom.jobs.models import PENDING, Job
from warroom.notify.models import QUEUED, Delivery
from warroom.paging import escalation, policies
from warroom.paging.models import ACTIVE, Escalation
from warroom.paging.policies import PolicyCreate
from warroom.people import service as people
from warroom.people.schemas import PersonCreate
from warroom.runtime import Runtime, build_runtime
from warroom.settings import Settings

LEVELS = 3


@dataclass
class Result:
    escalations: int = 0
    acknowledged: int = 0
    kills: int = 0
    expected: int = 0  # pages the escalations that nobody acknowledged had to send
    lost: int = 0  # of those, never received
    received: int = 0
    duplicates: int = 0  # receipts of a page already received
    under_new_key: int = 0  # of those, with a webhook-id not seen for it: a receiver that
    # drops repeated ids (Standard Webhooks) would act on them twice
    after_ack: int = 0  # pages received after their incident's acknowledgement committed
    seconds: float = 0.0
    unfinished: int = 0  # escalations still running when the time bound hit

    def line(self) -> str:
        return (
            f"{self.escalations} escalations ({self.acknowledged} acknowledged mid-way), "
            f"{self.kills} SIGKILLs: {self.expected} pages due, {self.lost} lost, "
            f"{self.duplicates} duplicate(s) in {self.received} received "
            f"({self.under_new_key} under a new webhook-id), "
            f"{self.after_ack} after an acknowledgement, {self.unfinished} unfinished, "
            f"{self.seconds:.1f} s"
        )


def _prepare(runtime: Runtime, count: int) -> list[tuple[int, int]]:
    """People, a three-level policy, and ``count`` escalating incidents: (incident, esc)."""
    now = runtime.clock.now()
    with runtime.transaction() as session:
        for name in ("a", "b", "c"):
            people.add(
                session=session, data=PersonCreate(name=name, email=f"{name}@x.org"), now=now
            )
        levels = [{"targets": [{"person": f"{n}@x.org"}], "timeout": "30s"} for n in "abc"]
        policies.create(
            session=session,
            data=PolicyCreate.model_validate({"name": "p", "levels": levels}),
            now=now,
        )
    made = []
    for i in range(count):
        with runtime.transaction() as session:
            incident, _ = incidents.declare(
                session=session,
                playbook=runtime.playbook,
                actor="faults",
                clock=runtime.clock,
                data=IncidentCreate(title=f"fault {i}", severity="P3"),
            )
            run = escalation.start(
                session=session, incident=incident, policy_ref="p", actor="faults", now=now
            )
            made.append((incident.id, run.id))
    return made


def _tick(runtime: Runtime, ack_after: dict[int, int], acked_at: dict[int, float]) -> int:
    """Acknowledge the incidents whose chosen level was paged, then let every waiting step
    fall due now; returns how many escalations are still running."""
    with runtime.transaction() as session:
        rows = session.execute(
            select(Escalation.id, Escalation.incident_id, Escalation.level).where(
                Escalation.status == ACTIVE
            )
        ).all()
    for esc_id, incident_id, level in rows:
        if esc_id in ack_after and esc_id not in acked_at and level > ack_after[esc_id]:
            with runtime.transaction() as session:
                changes.transition(
                    session=session,
                    playbook=runtime.playbook,
                    incident_id=incident_id,
                    action="acknowledge",
                    actor="faults",
                    clock=runtime.clock,
                )
            acked_at[esc_id] = time.monotonic()  # after the commit
    with runtime.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.kind == escalation.ESCALATE, Job.status == PENDING)
            .values(due_at=datetime.now(UTC))
        )
    return len(rows)


def _done(runtime: Runtime) -> int:
    with runtime.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(Job).where(Job.status == "done")) or 0
        )


def _outstanding(runtime: Runtime) -> int:
    with runtime.read() as session:
        running = session.scalar(
            select(func.count()).select_from(Escalation).where(Escalation.status == ACTIVE)
        )
        queued = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == QUEUED)
        )
    return int(running or 0) + int(queued or 0)


def run(
    *,
    database_url: str,
    workdir: Path,
    escalations: int,
    workers: int,
    seconds: float,
    seed: int = 1,
    kill_after: tuple[float, float] = (0.0, 0.2),
) -> Result:
    """Run the escalations with ``workers`` worker processes, one of them killed at a
    random moment (``kill_after`` seconds) once the workers have finished a job since the
    last kill. The one killed is a worker that is up (has logged that it takes jobs), and
    with several workers one is always left up: so every kill lands while they work (never
    on a process still starting, which would test nothing), and the run moves on however
    long a start takes on this machine."""
    rng = random.Random(seed)
    state, server = start_receiver()
    channels = workdir / "channels.json"
    hook = {"name": "pager", "url": state.url, "secret": SECRET, "events": ["incident.page"]}
    channels.write_text(json.dumps({"webhooks": [hook]}))
    settings = Settings(
        database_url=database_url, data_dir=workdir / "data", channels_file=channels, worker=False
    )
    runtime = build_runtime(settings, clock=SystemClock())
    migrate.upgrade(runtime.engine)
    made = _prepare(runtime, escalations)
    ack_after = {esc: rng.randrange(LEVELS) for _, esc in made if rng.random() < 0.5}
    acked_at: dict[int, float] = {}
    env = warroom_env(database_url, settings.data_dir, WARROOM_CHANNELS_FILE=str(channels)) | {
        "WARROOM_WORKER_POLL_SECONDS": "0.05"
    }
    logs = workdir / "workers"
    logs.mkdir(exist_ok=True)
    procs = [_start(env, logs) for _ in range(workers)]
    up: set[int] = set()  # pids of the workers seen taking jobs
    result = Result(escalations=len(made))
    started = time.monotonic()
    done_before = _done(runtime)
    kill_at: float | None = None
    try:
        while time.monotonic() - started < seconds:
            running = _tick(runtime, ack_after, acked_at)
            if not running and not _outstanding(runtime):
                break
            working = _working(procs, logs, up)
            if (
                kill_at is None
                and _done(runtime) > done_before
                and len(working) >= min(2, workers)  # one keeps working while others start
            ):
                kill_at = time.monotonic() + rng.uniform(*kill_after)
            if kill_at is not None and time.monotonic() >= kill_at:
                victim = rng.choice(working)
                procs[victim].kill()
                procs[victim].wait()
                up.discard(procs[victim].pid)  # a new process may get its pid
                procs[victim] = _start(env, logs)
                result.kills += 1
                done_before, kill_at = _done(runtime), None
            time.sleep(0.01)
        result.unfinished = _outstanding(runtime)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        server.shutdown()
        server.server_close()
        runtime.engine.dispose()
    result.seconds = time.monotonic() - started
    _count(result, made, ack_after, acked_at, state)
    return result


def _start(env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    """A ``warroom worker`` process logging to ``logs/<pid>.log``."""
    starting = logs / "starting.log"
    with starting.open("wb") as log:  # the process keeps its own copy of the file
        proc = subprocess.Popen([*WARROOM, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
    starting.rename(logs / f"{proc.pid}.log")
    return proc


def _working(procs: list[subprocess.Popen[bytes]], logs: Path, up: set[int]) -> list[int]:
    """Indexes of the workers that have logged that they started taking jobs (``up``
    remembers their pids)."""
    for proc in procs:
        if proc.pid not in up:
            name = f"{socket.gethostname()}:{proc.pid}"  # its worker_name()
            log = (logs / f"{proc.pid}.log").read_text("utf-8", errors="replace")
            if f"worker {name} started" in log:
                up.add(proc.pid)
    return [i for i, proc in enumerate(procs) if proc.pid in up]


def _count(
    result: Result,
    made: list[tuple[int, int]],
    ack_after: dict[int, int],
    acked_at: dict[int, float],
    state: Receiver,
) -> None:
    arrivals = [(event["id"], at) for event, at in zip(state.events(), state.arrived, strict=True)]
    receipts = Counter(page_id for page_id, _ in arrivals)
    result.received = len(arrivals)
    result.duplicates = sum(n - 1 for n in receipts.values())
    keys: dict[str, set[str]] = {}
    for headers, body in state.requests:
        keys.setdefault(json.loads(body)["id"], set()).add(headers["webhook-id"])
    result.under_new_key = sum(len(ids) - 1 for ids in keys.values())
    result.acknowledged = len(acked_at)
    for _, esc in made:
        if esc in ack_after:
            continue
        for level in range(LEVELS):
            result.expected += 1
            page = f"page-{esc}-0-{level}-{level + 1}"  # person ids 1, 2, 3 = levels 1, 2, 3
            if not receipts.get(page):
                result.lost += 1
    for page_id, arrived in arrivals:
        esc = int(page_id.split("-")[1])
        if esc in acked_at and arrived > acked_at[esc]:
            result.after_ack += 1
