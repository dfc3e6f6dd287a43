"""Web pages: server time of the dashboard and the incident room with 10,000 incidents.

Target (the web app's requirement): p95 server time under 50 ms for `GET /` (the dashboard)
and `GET /incidents/{id}` (the incident room) with 10,000 incidents in the database.

1. Seeds a fresh database (SQLite in a temporary directory, or BENCH_DATABASE_URL: an empty
   database, which it migrates) through warroom's own services, as production would have
   filled it: people, six on-call schedules (so declaring assembles the team and summons
   it), an Alertmanager integration, then BENCH_INCIDENTS incidents declared over
   BENCH_DAYS days on a FakeClock -- a share opened by Alertmanager alerts (with info
   alerts that open nothing), the rest declared by hand -- each acknowledged, its tasks
   worked, notes added, mitigated, resolved and, mostly, closed; the last BENCH_OPEN stay
   open (triggered, acknowledged or mitigated). Every change is replayed in time order and
   the job worker's own code runs the jobs that fall due in between (summons, pages,
   deliveries, phase and task deadlines), so timelines, deliveries and overdue notices
   are what a running server would have written.
2. Starts a real `warroom serve --no-worker` on 127.0.0.1, signs in over HTTP (the login
   form, its CSRF token, the session cookie) and requests, one at a time after a warm-up,
   BENCH_REQUESTS times each: the dashboard, the incident room (open incidents and old
   ones, alternating), and, for information, the incidents list and a search.
3. Prints p50/p95/p99/max per page and a one-line verdict per target page.

The page routes send no Server-Timing header, so the figure is the full request time seen
by one client over loopback: an upper bound on the server time.

Seeding 10,000 incidents replays about 150,000 changes and 140,000 jobs through the ORM
services: it takes a long while (see docs/web-performance.md). To measure again without
seeding again, keep the database (BENCH_KEEP=1) and point BENCH_DATABASE_URL at it: a
database that holds incidents already is measured as it is.

Run:  .venv/bin/python bench/bench_pages.py
      BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_pages \\
          .venv/bin/python bench/bench_pages.py      (an empty database, created beforehand)

Environment (all optional):
  BENCH_INCIDENTS=10000     incidents in the database
  BENCH_OPEN=40             of them still open (triggered, acknowledged, mitigated)
  BENCH_DAYS=180            days the incidents are spread over, ending now
  BENCH_ALERT_SHARE=0.3     share of incidents (below P0) meant to be opened by alerts
  BENCH_REQUESTS=300        timed requests per target page (the others: a third of it)
  BENCH_WARMUP=30           untimed requests per page first
  BENCH_SEED=1              random seed (the same seed, the same data)
  BENCH_KEEP=1              keep the temporary directory (the SQLite database, server log)
  BENCH_DATABASE_URL=url    this database instead of a temporary SQLite one: empty (it is
                            migrated and seeded) or seeded by an earlier run (measured as is)
"""

from __future__ import annotations

import heapq
import logging
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from common import free_port, percentile
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from warroom import migrate
from warroom.alerts import integrations
from warroom.alerts import service as alerts
from warroom.alerts.models import Alert, Integration
from warroom.alerts.normalize import NormalizedAlert, fingerprint_of
from warroom.auth.users import create_user
from warroom.clock import FakeClock
from warroom.db import create_db_engine, session_factory, transaction
from warroom.engine.handlers import build_handlers
from warroom.engine.worker import _run_one as run_job  # the worker's step, in our session
from warroom.incidents import changes, service, work
from warroom.incidents.lifecycle import OPEN_STATUSES, Action
from warroom.incidents.models import Incident, Phase, Task, TimelineEntry
from warroom.incidents.schemas import IncidentCreate
from warroom.jobs import service as jobs
from warroom.jobs.models import Job
from warroom.notify.console import ConsoleChannel
from warroom.notify.models import Delivery
from warroom.oncall import service as oncall
from warroom.oncall.schemas import LayerIn, ScheduleCreate
from warroom.people import service as people
from warroom.people.schemas import PersonCreate
from warroom.playbook.loader import load_playbook
from warroom.playbook.schema import Playbook

INCIDENTS = int(os.environ.get("BENCH_INCIDENTS", "10000"))
OPEN = int(os.environ.get("BENCH_OPEN", "40"))
DAYS = float(os.environ.get("BENCH_DAYS", "180"))
ALERT_SHARE = float(os.environ.get("BENCH_ALERT_SHARE", "0.3"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "30"))
SEED = int(os.environ.get("BENCH_SEED", "1"))
KEEP = os.environ.get("BENCH_KEEP", "") == "1"
TARGET_MS = 50.0
EVENTS_PER_TRANSACTION = 2_000
PASSWORD = "bench-password-not-secret"  # a throwaway user in a throwaway database
BENCH_USER = "bench@example.com"

NAMES = (  # first and last names, paired up
    ("Ada", "Okafor"),
    ("Alan", "Brandt"),
    ("Beatriz", "Lima"),
    ("Chen", "Wei"),
    ("Dana", "Kowalski"),
    ("Emeka", "Obi"),
    ("Farah", "Haddad"),
    ("Gustav", "Berg"),
    ("Hana", "Sato"),
    ("Ivan", "Petrov"),
    ("Jonas", "Weber"),
    ("Kiri", "Walker"),
    ("Lena", "Fischer"),
    ("Mateo", "Ruiz"),
    ("Nadia", "Rahman"),
    ("Omar", "Khalil"),
    ("Priya", "Nair"),
    ("Quinn", "Murphy"),
    ("Rosa", "Diaz"),
    ("Sven", "Lund"),
    ("Tomas", "Novak"),
    ("Uma", "Patel"),
    ("Viktor", "Hale"),
    ("Wen", "Zhou"),
)
SCHEDULES = {  # the schedules the default playbook's roles name, and how many people each
    "devops-lead": 3,
    "senior-developers": 5,
    "product": 3,
    "security": 3,
    "database-administrators": 3,
    "network": 3,
}
SERVICES = (
    "api",
    "checkout",
    "search",
    "auth",
    "payments",
    "ingest",
    "billing",
    "web",
    "mobile-gateway",
    "notifications",
    "reports",
    "db-primary",
    "cache",
    "cdn",
    "scheduler",
)
SYMPTOMS = {  # alertname -> what it says
    "HighErrorRate": "elevated 5xx rate",
    "HighLatency": "p99 latency above SLO",
    "ErrorBudgetBurn": "error budget burning fast",
    "QueueBacklog": "queue backlog growing",
    "DiskAlmostFull": "disk almost full",
    "CertificateExpiry": "certificate expires soon",
    "ReplicationLag": "replication lag",
    "CrashLooping": "pods crash looping",
    "MemoryPressure": "memory pressure",
    "UpstreamTimeouts": "timeouts to an upstream",
}
INFO_ALERTS = ("DeploymentRolledOut", "BackupCompleted", "AutoscalerScaledUp", "ConfigReloaded")
SECURITY_TITLES = (
    "Suspicious logins from unknown ASN",
    "Leaked API key found in public repository",
    "Unusual data export volume",
    "Malware signature on build agent",
    "Privilege escalation attempt on bastion",
    "Phishing campaign targeting staff",
)
NOTES = (
    "Rolled back the last deploy; watching the error rate.",
    "Customer support reports checkout failures in EU.",
    "Status page updated.",
    "Root cause looks like connection pool exhaustion on the primary.",
    "Scaled the workers from 8 to 20.",
    "Vendor confirmed an outage on their side; ticket opened.",
    "Error rate back to baseline for 15 minutes.",
    "Hot fix merged, deploying to production.",
    "Paging the database team for a second opinion.",
    "Follow-up ticket filed for the missing alert.",
)
SKIP_REASON = "not relevant for this incident"
SEARCH = "latency"  # a word in many titles: the search matches hundreds of incidents


# ---------------------------------------------------------------- seeding: the plan


@dataclass
class Plan:
    """One incident to be: what it is and the changes it goes through, with times."""

    index: int
    declared_at: datetime
    severity: str
    type: str
    title: str
    summary: str
    final: str  # the status it ends in
    labels: dict[str, str] | None = None  # set: opened by these alerts (the first one opens)
    extra_alerts: int = 0
    id: int | None = None
    fingerprints: list[str] = field(default_factory=list)


@dataclass(order=True)
class Event:
    at: datetime
    order: int
    apply: Callable[[Session], None] = field(compare=False)


def rand_between(rng: random.Random, low: timedelta, high: timedelta) -> timedelta:
    return low + (high - low) * rng.random()


def choose_kind(rng: random.Random) -> tuple[str, str]:
    """(type, severity), roughly as incidents come: most are small."""
    if rng.random() < 0.06:
        return "security", rng.choices(("P0", "P1", "P2", "P3"), (40, 30, 20, 10))[0]
    return "operational", rng.choices(("P0", "P1", "P2", "P3"), (2, 13, 35, 50))[0]


class Seeder:
    """Replays the plans' changes in time order through the services, in batches of
    events per transaction, running the jobs that fall due in between."""

    def __init__(self, factory: sessionmaker[Session], playbook: Playbook, end: datetime) -> None:
        self.factory, self.playbook, self.end = factory, playbook, end
        self.clock = FakeClock(end - timedelta(days=DAYS + 8))
        self.rng = random.Random(SEED)
        self.events: list[Event] = []
        self.order = 0
        self.people: list[str] = []  # emails, for actors
        self.integration: Integration | None = None
        self.handlers = build_handlers(playbook=playbook, channels={"console": ConsoleChannel()})
        self.jobs_run = 0
        self.info_alerts = 0

    # -- the fixed part: people, schedules, the integration, the bench user

    def setup(self) -> None:
        start = self.clock.now()
        with transaction(self.factory) as session:
            added = people.add_many(
                session=session,
                people=[
                    PersonCreate(name=f"{a} {b}", email=f"{a.lower()}.{b.lower()}@example.com")
                    for a, b in NAMES
                ],
                now=start,
            )
            self.people = [p.email or "" for p in added]
            at = 0
            for name, size in SCHEDULES.items():
                members = [self.people[(at + k) % len(self.people)] for k in range(size)]
                at += size
                oncall.create(
                    session=session,
                    data=ScheduleCreate(
                        name=name,
                        layers=[
                            LayerIn(
                                name="primary",
                                rotation="weekly",
                                start=start.date(),
                                participants=members,
                            )
                        ],
                    ),
                    now=start,
                )
            self.integration = integrations.create(
                session=session, name="prometheus", kind="alertmanager", auth_token=None, now=start
            )
            create_user(
                session=session,
                email=BENCH_USER,
                name="Bench Admin",
                role="admin",
                password=PASSWORD,
                now=start,
            )

    # -- the plans

    def plan_all(self) -> list[Plan]:
        rng = self.rng
        span = timedelta(days=DAYS)
        first = self.end - span
        closed_by_group: dict[str, datetime] = {}  # alert group -> when it is free again
        plans: list[Plan] = []
        open_count = min(OPEN, INCIDENTS)
        old = INCIDENTS - open_count
        for i in range(INCIDENTS):
            if i < old:  # spread over the span, leaving the last two days to the open ones
                declared = first + (span - timedelta(days=2)) * (i + rng.random()) / max(old, 1)
                final = "closed"
            else:
                declared = self.end - rand_between(rng, timedelta(minutes=20), timedelta(days=2))
                final = rng.choice(("triggered", "acknowledged", "acknowledged", "mitigated"))
            type_, severity = choose_kind(rng)
            plan = Plan(i, declared, severity, type_, "", "", final)
            if type_ == "security":
                plan.title = rng.choice(SECURITY_TITLES)
                plan.summary = "Reported by the security team; containment first."
            if rng.random() < ALERT_SHARE and severity != "P0":
                self._alerting(plan, closed_by_group)
            if not plan.title:
                service_name = rng.choice(SERVICES)
                plan.title = f"{service_name}: {rng.choice(list(SYMPTOMS.values()))}"
                plan.summary = f"Declared by hand. Customers of {service_name} affected."
            plans.append(plan)
        plans.sort(key=lambda p: p.declared_at)
        return plans

    def _alerting(self, plan: Plan, closed_by_group: dict[str, datetime]) -> None:
        """Make the plan open by an alert, in a group with no incident in play then."""
        rng = self.rng
        for _ in range(5):
            alertname, service_name = rng.choice(list(SYMPTOMS)), rng.choice(SERVICES)
            group = f"{alertname}/{service_name}"
            if closed_by_group.get(group, datetime.min.replace(tzinfo=UTC)) < plan.declared_at:
                break
        else:
            return  # every group tried is busy: declared by hand instead
        level = {"P1": "critical", "P2": "error", "P3": "warning"}[plan.severity]
        plan.labels = {"alertname": alertname, "service": service_name, "severity": level}
        if plan.type == "security":
            plan.labels["type"] = "security"  # the playbook routes it as a P0 security one
            plan.severity = "P0"
        plan.title = f"{alertname} on {service_name}: {SYMPTOMS[alertname]}"
        plan.extra_alerts = rng.choices((0, 1, 2), (60, 30, 10))[0]
        # a new alert of the group joins its incident while that is open, and reopens it
        # within the flap window after it resolved (at most about 29 h after declaring)
        busy = timedelta(days=2) if plan.final == "closed" else timedelta(days=10_000)
        closed_by_group[group] = plan.declared_at + busy

    # -- the events

    def add(self, at: datetime, apply: Callable[[Session], None]) -> None:
        self.order += 1
        heapq.heappush(self.events, Event(min(at, self.end), self.order, apply))

    def schedule(self, plan: Plan) -> None:
        """Put the plan's changes on the event queue (times relative to its declaration)."""
        rng = self.rng
        t0 = plan.declared_at
        responder = f"user:{rng.choice(self.people)}"
        open_final = plan.final in ("triggered", "acknowledged", "mitigated")
        self.add(t0, lambda s: self._declare(s, plan, responder))
        for k in range(plan.extra_alerts):
            self.add(t0 + timedelta(seconds=30 * (k + 1)), lambda s: self._more_alert(s, plan))
        if plan.final == "triggered":
            if rng.random() < 0.5:
                self.add(t0 + timedelta(minutes=3), lambda s: self._note(s, plan, responder))
            return
        acked = t0 + rand_between(rng, timedelta(minutes=1), timedelta(minutes=15))
        self.add(acked, lambda s: self._move(s, plan, "acknowledge", responder))
        mitigated = acked + rand_between(rng, timedelta(minutes=20), timedelta(hours=4))
        resolved = mitigated + rand_between(rng, timedelta(minutes=30), timedelta(hours=24))
        closed = resolved + rand_between(rng, timedelta(days=1), timedelta(days=14))
        # response tasks: most done while working on it, now and then one skipped
        response = self.playbook.phases_for(plan.type, plan.severity)
        tasks = [(p.key, t.key) for p in response for t in p.tasks]
        share = rng.uniform(0.2, 0.6) if open_final else rng.uniform(0.3, 0.9)
        working_until = mitigated if plan.final != "acknowledged" else self.end
        for n, (phase_key, task_key) in enumerate(tasks[: round(len(tasks) * share)]):
            at = acked + (working_until - acked) * (n + 1) / (len(tasks) + 1)
            skip = rng.random() < 0.05
            self.add(
                at,
                lambda s, r=f"{phase_key}/{task_key}", x=skip: self._task(s, plan, r, x, responder),
            )
        for _ in range(rng.choices((0, 1, 2, 3), (20, 40, 25, 15))[0]):
            at = acked + rand_between(rng, timedelta(0), resolved - acked)
            self.add(at, lambda s: self._note(s, plan, responder))
        if plan.final == "acknowledged":
            return
        if plan.labels is not None:  # every alert resolves: warroom mitigates the incident
            self.add(mitigated, lambda s: self._alerts_resolved(s, plan))
        else:
            self.add(mitigated, lambda s: self._move(s, plan, "mitigate", responder))
        if plan.final == "mitigated":
            return
        self.add(resolved, lambda s: self._move(s, plan, "resolve", responder))
        # post-incident: the immediate steps done, the post-mortem mostly, the long term rarely
        for stage in self.playbook.post_incident:
            chance = {"immediate": 0.7, "short-term": 0.4}.get(stage.key, 0.1)
            for task in stage.tasks:
                if rng.random() < chance:
                    at = resolved + rand_between(rng, timedelta(hours=1), closed - resolved)
                    ref = f"{stage.key}/{task.key}"
                    self.add(at, lambda s, r=ref: self._task(s, plan, r, False, responder))
        if closed < self.end:
            self.add(closed, lambda s: self._move(s, plan, "close", responder))

    def schedule_info_alerts(self, count: int) -> None:
        """Info alerts: recorded, never an incident."""
        rng = self.rng
        for n in range(count):
            at = self.end - rand_between(rng, timedelta(0), timedelta(days=DAYS))
            labels = {
                "alertname": rng.choice(INFO_ALERTS),
                "service": rng.choice(SERVICES),
                "severity": "info",
                "instance": f"node-{n}",
            }
            alert = NormalizedAlert(
                fingerprint=fingerprint_of(labels),
                status="firing",
                summary=f"{labels['alertname']} on {labels['service']}",
                source="alertmanager",
                labels=labels,
            )
            self.add(at, lambda s, a=alert: self._ingest(s, [a]))
            gone = at + rand_between(rng, timedelta(minutes=5), timedelta(hours=2))
            resolved = NormalizedAlert(**{**alert.__dict__, "status": "resolved"})
            self.add(gone, lambda s, a=resolved: self._ingest(s, [a]))

    # -- what the events do, through the services

    def _ingest(self, session: Session, batch: list[NormalizedAlert]) -> set[int]:
        assert self.integration is not None
        result = alerts.ingest(
            session=session,
            playbook=self.playbook,
            integration=self.integration,
            alerts=batch,
            clock=self.clock,
        )
        return result.incidents

    def _alert(self, plan: Plan) -> NormalizedAlert:
        assert plan.labels is not None
        labels = {**plan.labels, "instance": f"10.0.{plan.index % 250}.{len(plan.fingerprints)}"}
        fingerprint = fingerprint_of(labels)
        plan.fingerprints.append(fingerprint)
        return NormalizedAlert(
            fingerprint=fingerprint,
            status="firing",
            summary=plan.title,
            source="alertmanager",
            labels=labels,
            annotations={"description": f"{plan.title} ({labels['instance']})"},
            generator_url="http://prometheus.example.com/graph",
        )

    def _declare(self, session: Session, plan: Plan, actor: str) -> None:
        if plan.labels is not None:
            opened = self._ingest(session, [self._alert(plan)])
            if len(opened) == 1:
                plan.id = opened.pop()
                return
            raise RuntimeError(f"alert for plan {plan.index} opened {opened}")
        incident, _ = service.declare(
            session=session,
            playbook=self.playbook,
            data=IncidentCreate(
                title=plan.title, severity=plan.severity, type=plan.type, summary=plan.summary
            ),
            actor=actor,
            clock=self.clock,
        )
        plan.id = incident.id

    def _more_alert(self, session: Session, plan: Plan) -> None:
        self._ingest(session, [self._alert(plan)])

    def _alerts_resolved(self, session: Session, plan: Plan) -> None:
        assert plan.labels is not None
        gone = []
        for fingerprint in plan.fingerprints:
            gone.append(
                NormalizedAlert(
                    fingerprint=fingerprint,
                    status="resolved",
                    summary=plan.title,
                    source="alertmanager",
                    ends_at=self.clock.now(),
                )
            )
        self._ingest(session, gone)

    def _move(self, session: Session, plan: Plan, action: Action, actor: str) -> None:
        assert plan.id is not None
        changes.transition(
            session=session,
            playbook=self.playbook,
            incident_id=plan.id,
            action=action,
            actor=actor,
            clock=self.clock,
        )

    def _task(self, session: Session, plan: Plan, ref: str, skip: bool, actor: str) -> None:
        assert plan.id is not None
        work.set_task(
            session=session,
            incident_id=plan.id,
            task_ref=ref,
            status="skipped" if skip else "done",
            actor=actor,
            clock=self.clock,
            reason=SKIP_REASON if skip else "",
        )

    def _note(self, session: Session, plan: Plan, actor: str) -> None:
        assert plan.id is not None
        work.add_note(
            session=session,
            incident_id=plan.id,
            text=self.rng.choice(NOTES),
            actor=actor,
            clock=self.clock,
        )

    # -- the replay

    def run_jobs_until(self, session: Session, until: datetime) -> None:
        """Run the jobs due by ``until``, each at its due time, with the worker's own code
        (in the seeding transaction: a job's effects commit with the changes around it)."""
        while (due := jobs.next_due_at(session=session)) is not None and due <= until:
            self.clock.set(max(due, self.clock.now()))
            for job in jobs.claim_due(session=session, now=self.clock.now(), limit=50):
                run_job(
                    session=session, job=job, handlers=self.handlers, clock=self.clock, me="bench"
                )
                self.jobs_run += 1

    def replay(self, progress: Callable[[int, int], None]) -> None:
        """Apply the changes in time order, a batch per transaction."""
        total = len(self.events)
        done = 0
        while self.events:
            size = min(EVENTS_PER_TRANSACTION, len(self.events))
            with transaction(self.factory) as session:
                for _ in range(size):
                    event = heapq.heappop(self.events)
                    self.run_jobs_until(session, event.at)
                    self.clock.set(max(event.at, self.clock.now()))
                    event.apply(session)
            done += size
            progress(done, total)
        with transaction(self.factory) as session:
            self.run_jobs_until(session, self.end)


def seed(url: str) -> tuple[float, int] | None:
    """Migrate and fill the database: (seconds, jobs run); None when it holds incidents
    already (seeded by an earlier run kept with BENCH_KEEP=1): it is measured as it is."""
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    with transaction(session_factory(engine)) as session:
        if session.scalar(select(Incident.id).limit(1)) is not None:
            engine.dispose()
            return None
    print(f"seeding {INCIDENTS:,} incidents over {DAYS:.0f} days through the services", flush=True)
    factory = session_factory(engine)
    playbook = load_playbook()
    logging.getLogger("warroom.notify").setLevel(logging.ERROR)  # the console channel's pages
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    seeder = Seeder(factory, playbook, end)
    began = time.perf_counter()
    seeder.setup()
    for plan in seeder.plan_all():
        seeder.schedule(plan)
    seeder.schedule_info_alerts(max(1, INCIDENTS // 25))

    def progress(done: int, total: int) -> None:
        if done == total or done // EVENTS_PER_TRANSACTION % 10 == 0:
            elapsed = time.perf_counter() - began
            print(f"  seeding: {done:,}/{total:,} changes, {elapsed:.0f} s", flush=True)

    seeder.replay(progress)
    engine.dispose()
    return time.perf_counter() - began, seeder.jobs_run


@dataclass
class Contents:
    counts: dict[str, int]
    open_ids: list[int]
    old_ids: list[int]  # a sample of the resolved and closed ones


def survey(url: str) -> Contents:
    """What the database holds, and the incidents to request."""
    engine = create_db_engine(url)
    with transaction(session_factory(engine)) as session:
        is_open = Incident.status.in_(OPEN_STATUSES)
        counts = {
            name: session.scalar(select(func.count()).select_from(model).where(*where)) or 0
            for name, model, where in (
                ("incidents", Incident, ()),
                ("open", Incident, (is_open,)),
                ("phases", Phase, ()),
                ("tasks", Task, ()),
                ("timeline entries", TimelineEntry, ()),
                ("alerts", Alert, ()),
                ("deliveries", Delivery, ()),
                ("jobs", Job, ()),
            )
        }
        open_ids = list(session.scalars(select(Incident.id).where(is_open).order_by(Incident.id)))
        old_ids = list(session.scalars(select(Incident.id).where(~is_open).order_by(Incident.id)))
    engine.dispose()
    sample = random.Random(SEED).sample(old_ids, min(len(old_ids), 200))
    return Contents(counts, open_ids, sample)


# ---------------------------------------------------------------- serving and measuring


def start_server(url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, WARROOM_DATABASE_URL=url, WARROOM_DATA_DIR=str(data_dir))
    env.pop("WARROOM_PLAYBOOK", None)  # the default playbook, as seeded
    log = (data_dir / "server.log").open("ab")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "warroom",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-worker",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"warroom serve exited with {server.returncode}; see {log.name}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("warroom serve did not answer /healthz within 60 s")


def sign_in(client: httpx.Client) -> None:
    form = client.get("/login")
    form.raise_for_status()
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if found is None:
        raise RuntimeError("no csrf field on /login")
    answer = client.post(
        "/login",
        data={"email": BENCH_USER, "password": PASSWORD, "csrf": found.group(1), "next": "/"},
    )
    if answer.status_code != 303 or "warroom_session" not in client.cookies:
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:200]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    client: httpx.Client, server_pid: int, label: str, paths: list[str], count: int
) -> dict[str, float]:
    """Request the paths in turn: WARMUP untimed, then ``count`` timed, one at a time."""
    for n in range(WARMUP):
        client.get(paths[n % len(paths)]).raise_for_status()
    latencies: list[float] = []
    sizes: list[int] = []
    cpu_before = cpu_seconds(server_pid)
    for n in range(count):
        path = paths[n % len(paths)]
        started = time.perf_counter()
        response = client.get(path)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or 'action="/login"' in response.text:
            raise RuntimeError(f"GET {path}: {response.status_code}")
        sizes.append(len(response.content))
    figures = {
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "cpu": (cpu_seconds(server_pid) - cpu_before) * 1000 / count,
    }
    print(
        f"{label:<34} p50 {figures['p50']:6.1f}  p95 {figures['p95']:6.1f}  "
        f"p99 {figures['p99']:6.1f}  max {figures['max']:6.1f} ms   "
        f"server CPU {figures['cpu']:5.1f} ms/req   {statistics.mean(sizes) / 1024:4.0f} KiB  "
        f"({count} requests)",
        flush=True,
    )
    return figures


def interleave(first: list[str], second: list[str]) -> list[str]:
    """first[0], second[0], first[1], ...: the shorter list repeats until the longer ends."""
    if not first or not second:
        return first or second
    n = max(len(first), len(second))
    return [p for k in range(n) for p in (first[k % len(first)], second[k % len(second)])]


def load_note() -> str:
    """The 1-minute load average; this benchmark's own client and server add about 1."""
    one, _, _ = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = (
        "  BUSY: other processes compete for the CPUs, figures are inflated" if one > cpus else ""
    )
    return f"load average {one:.1f} on {cpus} CPUs (about 1 of it ours){busy}"


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="warroom-pages-"))
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{data_dir / 'warroom.db'}"
    backend = url.split("://")[0]
    try:
        print(f"warroom pages benchmark on {backend}", flush=True)
        seeded = seed(url)
        if seeded is None:
            print("the database holds incidents already: measured as it is, not seeded")
        contents = survey(url)
        summary = ", ".join(f"{v:,} {k}" for k, v in contents.counts.items())
        if seeded is not None:
            print(f"seeded in {seeded[0]:.0f} s ({seeded[1]:,} jobs run on the way): {summary}")
        else:
            print(f"it holds {summary}")
        open_rooms = [f"/incidents/{i}" for i in contents.open_ids]
        old_rooms = [f"/incidents/{i}" for i in contents.old_ids]
        server, base = start_server(url, data_dir)
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                sign_in(client)
                print(
                    "one client, one request at a time, over loopback; the pages send no "
                    "Server-Timing header, so these are full request times (an upper bound "
                    "on server time)",
                    flush=True,
                )
                print(f"before: {load_note()}", flush=True)

                def run(label: str, paths: list[str], count: int) -> dict[str, float]:
                    return measure(client, server.pid, label, paths, count)

                rooms = interleave(open_rooms, old_rooms)
                results = {
                    "GET / (dashboard)": run("GET / (dashboard)", ["/"], REQUESTS),
                    "GET /incidents/{id} (room)": run(
                        "GET /incidents/{id} (room)", rooms, REQUESTS
                    ),
                }
                extra = max(1, REQUESTS // 3)
                if open_rooms:
                    run("  room, open incidents only", open_rooms, extra)
                if old_rooms:
                    run("  room, old incidents only", old_rooms, extra)
                run("GET /incidents (list)", ["/incidents"], extra)
                search = f"/incidents?q={SEARCH}"
                run(f"GET {search} (search)", [search], extra)
                print(f"after: {load_note()}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=10)
        for label, figures in results.items():
            verdict = "meets" if figures["p95"] < TARGET_MS else "MISSES"
            print(f"{label}: p95 {figures['p95']:.1f} ms {verdict} the {TARGET_MS:.0f} ms target")
    finally:
        if KEEP:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
