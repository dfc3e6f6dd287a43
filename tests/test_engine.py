"""The engine on both backends: phase deadlines become overdue entries and notifications,
exactly once, through the services and ``run_due`` with the fake clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from warroom.clock import Clock, FakeClock
from warroom.engine import worker
from warroom.engine.handlers import Handler
from warroom.incidents import changes, service, timeline, work
from warroom.incidents.lifecycle import Action
from warroom.incidents.models import Phase, TimelineEntry
from warroom.incidents.phases import PHASE_DUE
from warroom.incidents.schemas import IncidentCreate, IncidentUpdate
from warroom.jobs.models import CANCELLED, DONE, PENDING, Job
from warroom.notify.models import Delivery
from warroom.people import service as people
from warroom.people.schemas import PersonCreate
from warroom.playbook.loader import default_playbook_text, parse_playbook
from warroom.runtime import Runtime

MINUTE = timedelta(minutes=1)
P1_TASKS = ["identify-components", "assess-user-impact", "determine-urgency"]
P1_PHASES = ["p1-assessment", "p1-mitigation", "p1-resolution"]


# --- helpers --------------------------------------------------------------------------------


def declare(
    runtime: Runtime, *, severity: str = "P1", type_: str = "operational", title: str = "Slow"
) -> int:
    with runtime.transaction() as session:
        incident, created = service.declare(
            session=session,
            playbook=runtime.playbook,
            data=IncidentCreate(title=title, severity=severity, type=type_),
            actor="tester",
            clock=runtime.clock,
        )
        assert created
        return incident.id


def run_due(runtime: Runtime, handlers: dict[str, Handler] | None = None, **kw: Any) -> int:
    return worker.run_due(
        factory=runtime.factory,
        clock=runtime.clock,
        handlers=handlers if handlers is not None else runtime.handlers(),
        **kw,
    )


def drain(runtime: Runtime, handlers: dict[str, Handler] | None = None) -> int:
    """Run due jobs until none is left; returns how many ran."""
    total = 0
    for _ in range(100):
        taken = run_due(runtime, handlers)
        if taken == 0:
            return total
        total += taken
    raise AssertionError("jobs keep falling due")


def entries(runtime: Runtime, incident_id: int, kind: str | None = None) -> list[TimelineEntry]:
    with runtime.transaction() as session:
        rows = timeline.entries(session=session, incident_id=incident_id)
        return [r for r in rows if kind is None or r.kind == kind]


def deliveries(runtime: Runtime, incident_id: int) -> list[Delivery]:
    with runtime.transaction() as session:
        query = select(Delivery).where(Delivery.incident_id == incident_id)
        return list(session.scalars(query.order_by(Delivery.id)).all())


def phase_jobs(runtime: Runtime, incident_id: int) -> dict[str, Job]:
    """The phase-due job of each phase key of the incident."""
    with runtime.transaction() as session:
        phases = session.scalars(select(Phase).where(Phase.incident_id == incident_id)).all()
        found = {}
        for phase in phases:
            job = session.scalar(select(Job).where(Job.key == f"{PHASE_DUE}:{phase.id}"))
            if job is not None:
                found[phase.key] = job
        return found


def overdue_phases(runtime: Runtime, incident_id: int) -> list[str]:
    return [e.data["phase"] for e in entries(runtime, incident_id, "phase_overdue")]


def advance(runtime: Runtime, delta: timedelta) -> None:
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    clock.advance(delta)


# --- a deadline passes ----------------------------------------------------------------------


def test_overdue_phase_is_recorded_and_the_commander_told_exactly_once(runtime: Runtime) -> None:
    declared_at = runtime.clock.now()
    incident_id = declare(runtime)
    assert run_due(runtime) == 0, "nothing is due at declaration"

    advance(runtime, 15 * MINUTE - timedelta(seconds=1))
    assert run_due(runtime) == 0, "not due a second early"
    advance(runtime, timedelta(seconds=2))
    assert run_due(runtime, limit=1) == 1, "one job per transaction: the deadline first"

    (overdue,) = entries(runtime, incident_id, "phase_overdue")
    assert overdue.actor == "warroom"
    assert overdue.at == runtime.clock.now()
    assert overdue.data["phase"] == "p1-assessment"
    assert overdue.data["open_tasks"] == P1_TASKS
    assert overdue.data["due_at"] == (declared_at + 15 * MINUTE).isoformat()

    (queued,) = entries(runtime, incident_id, "notification_queued")
    assert queued.seq == overdue.seq + 1
    assert queued.data["recipient"] == "Incident Commander (unassigned)"
    assert queued.data["role"] == "incident-commander"
    assert queued.data["channel"] == "console"

    (delivery,) = deliveries(runtime, incident_id)
    assert delivery.id == queued.data["delivery_id"]
    assert delivery.status == "queued"
    assert delivery.recipient == "Incident Commander (unassigned)"
    assert "Assessment is overdue" in delivery.subject
    for title in ("Identify affected components", "Assess user impact", "Determine urgency"):
        assert title in delivery.body

    assert run_due(runtime) == 1, "the delivery job"
    (delivery,) = deliveries(runtime, incident_id)
    assert delivery.status == "sent"
    assert delivery.attempts == 1
    assert delivery.sent_at == runtime.clock.now()

    count = len(entries(runtime, incident_id))
    assert run_due(runtime) == 0
    advance(runtime, 5 * MINUTE)  # still before the mitigation deadline (45 min)
    assert run_due(runtime) == 0
    assert len(entries(runtime, incident_id)) == count
    assert len(deliveries(runtime, incident_id)) == 1
    assert phase_jobs(runtime, incident_id)["p1-assessment"].status == DONE
    with runtime.transaction() as session:
        incident = service.get(session=session, incident_id=incident_id)
        assert timeline.verify(session=session, incident=incident).ok


def test_each_p1_phase_falls_overdue_in_turn(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    advance(runtime, 16 * MINUTE)
    drain(runtime)
    assert overdue_phases(runtime, incident_id) == ["p1-assessment"]
    advance(runtime, 30 * MINUTE)  # 46 min
    drain(runtime)
    assert overdue_phases(runtime, incident_id) == ["p1-assessment", "p1-mitigation"]
    advance(runtime, 15 * MINUTE)  # 61 min
    drain(runtime)
    assert overdue_phases(runtime, incident_id) == P1_PHASES
    assert len(entries(runtime, incident_id, "notification_queued")) == 3
    assert [d.status for d in deliveries(runtime, incident_id)] == ["sent"] * 3


def test_jobs_falling_due_while_down_run_once_on_restart(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    advance(runtime, 3 * timedelta(hours=1))
    drain(runtime)
    drain(runtime)
    assert overdue_phases(runtime, incident_id) == P1_PHASES
    assert len(deliveries(runtime, incident_id)) == 3


def test_no_overdue_when_every_task_is_done_or_skipped_in_time(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    advance(runtime, 5 * MINUTE)
    with runtime.transaction() as session:
        for key in P1_TASKS[:2]:
            work.set_task(
                session=session,
                incident_id=incident_id,
                task_ref=f"p1-assessment/{key}",
                status="done",
                actor="tester",
                clock=runtime.clock,
            )
        work.set_task(
            session=session,
            incident_id=incident_id,
            task_ref=f"p1-assessment/{P1_TASKS[2]}",
            status="skipped",
            reason="obvious",
            actor="tester",
            clock=runtime.clock,
        )
    advance(runtime, 11 * MINUTE)
    assert run_due(runtime) == 1, "the deadline job still runs"
    assert overdue_phases(runtime, incident_id) == []
    assert entries(runtime, incident_id, "notification_queued") == []
    assert deliveries(runtime, incident_id) == []
    assert phase_jobs(runtime, incident_id)["p1-assessment"].status == DONE


def test_one_open_task_is_enough_to_be_overdue(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    with runtime.transaction() as session:
        for key in P1_TASKS[:2]:
            work.set_task(
                session=session,
                incident_id=incident_id,
                task_ref=key,
                status="done",
                actor="tester",
                clock=runtime.clock,
            )
    advance(runtime, 16 * MINUTE)
    drain(runtime)
    (overdue,) = entries(runtime, incident_id, "phase_overdue")
    assert overdue.data["open_tasks"] == [P1_TASKS[2]]


def test_resolved_incident_has_no_overdue_response_phases(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    advance(runtime, 5 * MINUTE)
    resolved_at = runtime.clock.now()
    with runtime.transaction() as session:
        changes.transition(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            action="resolve",
            actor="tester",
            clock=runtime.clock,
        )
    advance(runtime, 2 * timedelta(hours=1))
    drain(runtime)
    assert overdue_phases(runtime, incident_id) == []
    assert deliveries(runtime, incident_id) == []
    # The post-incident steps keep their own clocks after resolution.
    advance(runtime, timedelta(hours=23))
    drain(runtime)
    assert overdue_phases(runtime, incident_id) == ["immediate"]
    (overdue,) = entries(runtime, incident_id, "phase_overdue")
    assert overdue.data["due_at"] == (resolved_at + timedelta(hours=24)).isoformat()


def test_acknowledged_and_mitigated_incidents_still_fall_overdue(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    actions: tuple[Action, ...] = ("acknowledge", "mitigate")
    with runtime.transaction() as session:
        for action in actions:
            changes.transition(
                session=session,
                playbook=runtime.playbook,
                incident_id=incident_id,
                action=action,
                actor="tester",
                clock=runtime.clock,
            )
    advance(runtime, 16 * MINUTE)
    drain(runtime)
    assert overdue_phases(runtime, incident_id) == ["p1-assessment"]


def test_raising_p1_to_p0_cancels_the_p1_clocks(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    advance(runtime, 5 * MINUTE)
    changed_at = runtime.clock.now()
    with runtime.transaction() as session:
        changes.update(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            changes=IncidentUpdate(severity="P0", reason="worse"),
            actor="tester",
            clock=runtime.clock,
        )
    jobs = phase_jobs(runtime, incident_id)
    assert {k: jobs[k].status for k in P1_PHASES} == dict.fromkeys(P1_PHASES, CANCELLED)
    assert jobs["p0-immediate-response"].due_at == changed_at + 15 * MINUTE
    assert jobs["p0-assessment"].due_at == changed_at + 30 * MINUTE
    assert "p0-recovery" not in jobs, "an open window has no deadline job"

    advance(runtime, 2 * timedelta(hours=1))
    drain(runtime)
    assert overdue_phases(runtime, incident_id) == ["p0-immediate-response", "p0-assessment"]
    assert len(deliveries(runtime, incident_id)) == 2
    jobs = phase_jobs(runtime, incident_id)
    assert {k: jobs[k].status for k in P1_PHASES} == dict.fromkeys(P1_PHASES, CANCELLED)
    assert all(jobs[k].attempts == 0 for k in P1_PHASES)


def test_lowering_p0_to_p1_and_back_plans_fresh_clocks(runtime: Runtime) -> None:
    incident_id = declare(runtime, severity="P0")
    for severity in ("P1", "P0"):
        advance(runtime, 2 * MINUTE)
        with runtime.transaction() as session:
            changes.update(
                session=session,
                playbook=runtime.playbook,
                incident_id=incident_id,
                changes=IncidentUpdate(severity=severity),
                actor="tester",
                clock=runtime.clock,
            )
    raised_at = runtime.clock.now()
    advance(runtime, 16 * MINUTE)
    drain(runtime)
    (overdue,) = entries(runtime, incident_id, "phase_overdue")
    assert overdue.data["phase"] == "p0-immediate-response"
    assert overdue.data["due_at"] == (raised_at + 15 * MINUTE).isoformat()


# --- failures -------------------------------------------------------------------------------


def failing_for(runtime: Runtime, incident_id: int) -> tuple[dict[str, Handler], Callable[[], int]]:
    """Handlers whose phase_due does its work for ``incident_id`` and then raises."""
    handlers = runtime.handlers()
    real = handlers[PHASE_DUE]
    calls = []

    def flaky(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        real(session, payload, clock)
        phase = session.get(Phase, int(payload["phase_id"]))
        assert phase is not None
        if phase.incident_id == incident_id:
            calls.append(payload)
            raise RuntimeError("boom")

    return {**handlers, PHASE_DUE: flaky}, lambda: len(calls)


def test_a_failing_job_is_retried_and_does_not_block_others(runtime: Runtime) -> None:
    failing = declare(runtime, title="A")
    healthy = declare(runtime, title="B")
    handlers, calls = failing_for(runtime, failing)
    advance(runtime, 16 * MINUTE)

    # The failing deadline, the healthy one and the healthy one's notification, each in
    # its own transaction.
    assert run_due(runtime, handlers) == 3
    assert calls() == 1
    job = phase_jobs(runtime, failing)["p1-assessment"]
    assert job.status == PENDING
    assert job.attempts == 1
    assert job.finished_at is None
    assert job.last_error is not None
    assert "boom" in job.last_error
    # The failed attempt's effects were rolled back with it.
    assert overdue_phases(runtime, failing) == []
    assert entries(runtime, failing, "notification_queued") == []
    assert deliveries(runtime, failing) == []
    # The other incident's deadline ran in the same pass.
    assert overdue_phases(runtime, healthy) == ["p1-assessment"]
    assert phase_jobs(runtime, healthy)["p1-assessment"].status == DONE
    assert len(deliveries(runtime, healthy)) == 1

    advance(runtime, 5 * MINUTE)
    drain(runtime)  # the real handlers now: the retry succeeds
    job = phase_jobs(runtime, failing)["p1-assessment"]
    assert job.status == DONE
    assert job.attempts == 2
    assert overdue_phases(runtime, failing) == ["p1-assessment"]
    assert [d.status for d in deliveries(runtime, failing)] == ["sent"]
    assert overdue_phases(runtime, healthy) == ["p1-assessment"]
    assert [d.status for d in deliveries(runtime, healthy)] == ["sent"]
    with runtime.transaction() as session:
        for incident_id in (failing, healthy):
            incident = service.get(session=session, incident_id=incident_id)
            assert timeline.verify(session=session, incident=incident).ok


def test_a_failed_job_waits_for_its_backoff(runtime: Runtime) -> None:
    """A retry comes later than the failed attempt, even for a job that was due long ago."""
    failing = declare(runtime)
    handlers, calls = failing_for(runtime, failing)
    advance(runtime, 16 * MINUTE)  # one minute after the assessment deadline
    failed_at = runtime.clock.now()
    assert run_due(runtime, handlers) == 1
    job = phase_jobs(runtime, failing)["p1-assessment"]
    assert job.attempts == 1
    assert job.due_at > failed_at, "the retry is scheduled before the failure that caused it"
    assert run_due(runtime, handlers) == 0, "the job was retried at once, without backoff"
    assert calls() == 1


def test_a_job_that_keeps_failing_gives_up(runtime: Runtime) -> None:
    failing = declare(runtime)
    handlers, calls = failing_for(runtime, failing)
    advance(runtime, 16 * MINUTE)
    for _ in range(worker.MAX_ATTEMPTS + 2):
        run_due(runtime, handlers)
        advance(runtime, timedelta(hours=1))
    job = phase_jobs(runtime, failing)["p1-assessment"]
    assert job.status == "failed"
    assert job.attempts == worker.MAX_ATTEMPTS
    assert calls() >= worker.MAX_ATTEMPTS  # later phases of the incident fail too
    assert overdue_phases(runtime, failing) == []


def test_a_job_without_handler_fails_without_blocking(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    advance(runtime, 16 * MINUTE)
    handlers = {k: v for k, v in runtime.handlers().items() if k != PHASE_DUE}
    assert run_due(runtime, handlers) == 1
    job = phase_jobs(runtime, incident_id)["p1-assessment"]
    assert job.status == "failed"
    assert job.last_error is not None
    assert PHASE_DUE in job.last_error
    assert run_due(runtime) == 0, "a failed job is not taken again"


# --- who is told ----------------------------------------------------------------------------


def test_the_assigned_incident_commander_is_told(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    with runtime.transaction() as session:
        person = people.add(
            session=session,
            data=PersonCreate(name="Ada Lovelace", email="ada@example.com"),
            now=runtime.clock.now(),
        )
        other = people.add(
            session=session, data=PersonCreate(name="Grace Hopper"), now=runtime.clock.now()
        )
        work.assign_role(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            role_key="technical-lead",
            person_id=other.id,
            actor="tester",
            clock=runtime.clock,
        )
        work.assign_role(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            role_key="incident-commander",
            person_id=person.id,
            actor="tester",
            clock=runtime.clock,
        )
    advance(runtime, 16 * MINUTE)
    drain(runtime)
    (queued,) = entries(runtime, incident_id, "notification_queued")
    assert queued.data["recipient"] == "Ada Lovelace <ada@example.com>"
    (delivery,) = deliveries(runtime, incident_id)
    assert delivery.recipient == "Ada Lovelace <ada@example.com>"
    assert delivery.status == "sent"


def test_a_commander_without_email_is_named(runtime: Runtime) -> None:
    incident_id = declare(runtime)
    with runtime.transaction() as session:
        person = people.add(
            session=session, data=PersonCreate(name="Grace Hopper"), now=runtime.clock.now()
        )
        work.assign_role(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            role_key="incident-commander",
            person_id=person.id,
            actor="tester",
            clock=runtime.clock,
        )
        work.unassign_role(
            session=session,
            incident_id=incident_id,
            role_key="incident-commander",
            actor="tester",
            clock=runtime.clock,
        )
    advance(runtime, 16 * MINUTE)
    drain(runtime)
    (queued,) = entries(runtime, incident_id, "notification_queued")
    assert queued.data["recipient"] == "Incident Commander (unassigned)"

    with runtime.transaction() as session:
        work.assign_role(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            role_key="incident-commander",
            person_id=person.id,
            actor="tester",
            clock=runtime.clock,
        )
    advance(runtime, 30 * MINUTE)
    drain(runtime)
    recipients = [e.data["recipient"] for e in entries(runtime, incident_id, "notification_queued")]
    assert recipients == ["Incident Commander (unassigned)", "Grace Hopper"]


# --- concurrency ----------------------------------------------------------------------------


def test_concurrent_workers_never_run_a_job_twice(runtime: Runtime) -> None:
    """Two workers drain the same due jobs at once (on SQLite the write lock serialises them)."""
    incidents = [declare(runtime, title=f"incident {i}") for i in range(25)]
    advance(runtime, 2 * timedelta(hours=1))
    handlers = runtime.handlers()
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    taken = [0, 0]

    def work_loop(index: int) -> None:
        try:
            start.wait()
            for _ in range(200):
                n = worker.run_due(
                    factory=runtime.factory,
                    clock=runtime.clock,
                    handlers=handlers,
                    limit=7,
                    name=f"worker-{index}",
                )
                if n == 0:
                    return
                taken[index] += n
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work_loop, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    leftover = drain(runtime)

    phase_count = 3 * len(incidents)
    # Every job ran once: one per phase deadline and one per delivery.
    assert sum(taken) + leftover == 2 * phase_count
    for incident_id in incidents:
        assert overdue_phases(runtime, incident_id) == P1_PHASES
        assert len(entries(runtime, incident_id, "notification_queued")) == 3
        sent = deliveries(runtime, incident_id)
        assert [(d.status, d.attempts) for d in sent] == [("sent", 1)] * 3
    with runtime.transaction() as session:
        jobs = session.scalars(select(Job)).all()
        assert len(jobs) == 2 * phase_count
        assert {(j.status, j.attempts) for j in jobs} == {(DONE, 1)}
        assert {j.finished_by for j in jobs} <= {"worker-0", "worker-1", worker.worker_name()}


@pytest.mark.parametrize("workers", [4])
def test_many_concurrent_workers_on_postgresql(runtime: Runtime, workers: int) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED sharing is a PostgreSQL feature")
    incidents = [declare(runtime, title=f"incident {i}") for i in range(40)]
    advance(runtime, 2 * timedelta(hours=1))
    handlers = runtime.handlers()
    start = threading.Barrier(workers)
    errors: list[BaseException] = []
    by_worker: dict[int, int] = dict.fromkeys(range(workers), 0)

    def work_loop(index: int) -> None:
        try:
            start.wait()
            idle = 0
            while idle < 3:
                n = worker.run_due(
                    factory=runtime.factory,
                    clock=runtime.clock,
                    handlers=handlers,
                    limit=5,
                    name=f"worker-{index}",
                )
                by_worker[index] += n
                idle = idle + 1 if n == 0 else 0
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work_loop, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    leftover = drain(runtime)
    assert sum(by_worker.values()) + leftover == 2 * 3 * len(incidents)
    for incident_id in incidents:
        assert overdue_phases(runtime, incident_id) == P1_PHASES
        assert len(entries(runtime, incident_id, "notification_queued")) == 3
        sent = deliveries(runtime, incident_id)
        assert [(d.status, d.attempts) for d in sent] == [("sent", 1)] * 3
    with runtime.transaction() as session:
        jobs = session.scalars(select(Job)).all()
        assert {(j.status, j.attempts) for j in jobs} == {(DONE, 1)}
        assert len(jobs) == 2 * 3 * len(incidents)


# --- a task with its own deadline -----------------------------------------------------------


@pytest.fixture
def task_due_runtime(runtime: Runtime) -> Runtime:
    """The default playbook with a 5-minute deadline on P1's first assessment task."""
    text = default_playbook_text()
    line = "{key: identify-components, title: Identify affected components}"
    assert line in text
    text = text.replace(line, line.replace("}", ", due: 5m}"), 1)
    runtime.playbook = parse_playbook(text)
    return runtime


def test_task_with_its_own_deadline_falls_overdue(task_due_runtime: Runtime) -> None:
    runtime = task_due_runtime
    incident_id = declare(runtime)
    advance(runtime, 6 * MINUTE)
    assert drain(runtime) == 2  # the task deadline and its delivery
    (overdue,) = entries(runtime, incident_id, "task_overdue")
    assert overdue.data["task"] == "identify-components"
    assert overdue.data["phase"] == "p1-assessment"
    (queued,) = entries(runtime, incident_id, "notification_queued")
    assert "identify affected components" in queued.data["subject"].lower()
    advance(runtime, 10 * MINUTE)
    drain(runtime)
    assert len(entries(runtime, incident_id, "task_overdue")) == 1
    assert overdue_phases(runtime, incident_id) == ["p1-assessment"]


def test_task_done_before_its_own_deadline_is_not_overdue(task_due_runtime: Runtime) -> None:
    runtime = task_due_runtime
    incident_id = declare(runtime)
    advance(runtime, 2 * MINUTE)
    with runtime.transaction() as session:
        work.set_task(
            session=session,
            incident_id=incident_id,
            task_ref="identify-components",
            status="done",
            actor="tester",
            clock=runtime.clock,
        )
    advance(runtime, 4 * MINUTE)
    drain(runtime)
    assert entries(runtime, incident_id, "task_overdue") == []
    assert deliveries(runtime, incident_id) == []


def test_a_severity_change_while_its_deadline_runs_succeeds(runtime: Runtime) -> None:
    """A responder raising the severity at the moment the worker runs that incident's
    deadline must not get an error: the worker holds the job row and wants the incident,
    the change holds the incident and wants to cancel the job."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    incident_id = declare(runtime)
    advance(runtime, 16 * MINUTE)
    handlers = runtime.handlers()
    real = handlers[PHASE_DUE]
    entered, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def paused(session: Session, payload: dict[str, Any], clock: Clock) -> None:
        entered.set()  # the job row is claimed and locked now
        release.wait(30)
        real(session, payload, clock)

    def run_worker() -> None:
        try:
            outcome["worker"] = run_due(runtime, {**handlers, PHASE_DUE: paused})
        except Exception as exc:  # reported below
            outcome["worker"] = exc

    def raise_severity() -> None:
        try:
            with runtime.transaction() as session:
                changes.update(
                    session=session,
                    playbook=runtime.playbook,
                    incident_id=incident_id,
                    changes=IncidentUpdate(severity="P0"),
                    actor="tester",
                    clock=runtime.clock,
                )
            outcome["update"] = "ok"
        except Exception as exc:  # reported below
            outcome["update"] = exc

    worker_thread = threading.Thread(target=run_worker)
    worker_thread.start()
    assert entered.wait(30)
    update_thread = threading.Thread(target=raise_severity)
    update_thread.start()
    with runtime.engine.connect() as connection:  # let the change reach the job row lock
        for _ in range(200):
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting or not update_thread.is_alive():
                break
            threading.Event().wait(0.05)
    release.set()
    worker_thread.join(60)
    update_thread.join(60)
    assert outcome.get("update") == "ok", outcome.get("update")
    assert not isinstance(outcome.get("worker"), Exception), outcome.get("worker")
    drain(runtime)
    with runtime.transaction() as session:
        incident = service.get(session=session, incident_id=incident_id)
        assert incident.severity == "P0"
        assert [p.key for p in incident.phases if p.active] == [
            "p0-immediate-response",
            "p0-assessment",
            "p0-recovery",
        ]
        assert timeline.verify(session=session, incident=incident).ok
