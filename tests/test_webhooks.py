"""Outbound webhooks: signed incident events sent to a real HTTP server on 127.0.0.1,
retried on 5xx, failed at once on other 4xx, and bad channel files refused."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook, WebhookVerificationError

from tests.conftest import Cli
from tests.procs import Server, wait_until, warroom_env
from tests.receivers import SECRET, Receiver, channels_file, drain
from warroom.alerts import integrations
from warroom.alerts import service as alerts_service
from warroom.alerts.normalize import NormalizedAlert
from warroom.clock import FakeClock
from warroom.engine import events as events_engine
from warroom.engine.handlers import LEASE
from warroom.engine.worker import run_due, run_queued_events
from warroom.errors import ChannelsError
from warroom.incidents import changes, service
from warroom.incidents.events import RUN_HERE
from warroom.incidents.models import TimelineEntry
from warroom.incidents.schemas import IncidentCreate
from warroom.jobs.models import Job
from warroom.notify import outbox
from warroom.notify.base import Message
from warroom.notify.models import Delivery
from warroom.runtime import Runtime, build_runtime
from warroom.settings import Settings
from warroom.web.app import create_app


@pytest.fixture
def hooked(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> Iterator[Runtime]:
    configured = settings.model_copy(
        update={"channels_file": channels_file(tmp_path, receiver.url)}
    )
    rt = build_runtime(configured, clock=clock)
    rt.prepare_database()
    yield rt
    rt.engine.dispose()


def declare(runtime: Runtime, title: str = "Checkout is down") -> int:
    with runtime.transaction() as session:
        return declare_in(session, runtime, title)


def declare_in(session: Session, runtime: Runtime, title: str = "Checkout is down") -> int:
    incident, _ = service.declare(
        session=session,
        playbook=runtime.playbook,
        actor="tester",
        clock=runtime.clock,
        data=IncidentCreate(title=title, severity="P1"),
    )
    return incident.id


def move(runtime: Runtime, incident_id: int, action: str) -> None:
    with runtime.transaction() as session:
        move_in(session, runtime, incident_id, action)


def move_in(session: Session, runtime: Runtime, incident_id: int, action: str) -> None:
    changes.transition(
        session=session,
        playbook=runtime.playbook,
        incident_id=incident_id,
        action=action,  # type: ignore[arg-type]
        actor="tester",
        clock=runtime.clock,
    )


def test_incident_events_arrive_signed_and_verifiable(hooked: Runtime, receiver: Receiver) -> None:
    incident_id = declare(hooked)
    move(hooked, incident_id, "acknowledge")
    move(hooked, incident_id, "resolve")
    drain(hooked)
    events = receiver.events()
    assert [e["type"] for e in events] == [
        "incident.triggered",
        "incident.acknowledged",
        "incident.resolved",
    ]
    first = events[0]["data"]["incident"]
    assert (first["id"], first["title"], first["severity"]) == (
        incident_id,
        "Checkout is down",
        "P1",
    )
    assert first["url"].endswith(f"/api/v1/incidents/{incident_id}")
    verifier = Webhook(SECRET)
    for headers, body in receiver.requests:
        assert verifier.verify(body, headers)["type"].startswith("incident.")
    headers, body = receiver.requests[0]
    tampered = body.replace(b"Checkout", b"Checkin!")
    with pytest.raises(WebhookVerificationError):
        verifier.verify(tampered, headers)
    assert len({h["webhook-id"] for h, _ in receiver.requests}) == 3


def ingest(runtime: Runtime, alerts: list[NormalizedAlert]) -> None:
    """The alerts ingested, in one transaction, from a new Alertmanager integration."""
    with runtime.transaction() as session:
        source = integrations.create(
            session=session,
            name="prom",
            kind="alertmanager",
            auth_token=None,
            now=runtime.clock.now(),
        )
        alerts_service.ingest(
            session=session,
            playbook=runtime.playbook,
            integration=source,
            alerts=alerts,
            clock=runtime.clock,
        )


def test_an_alert_opened_incident_carries_its_alerts(hooked: Runtime, receiver: Receiver) -> None:
    labels = {"alertname": "DiskFull", "service": "db", "severity": "critical"}
    ingest(hooked, [NormalizedAlert("fp1", "firing", "Disk full on db-1", "alertmanager", labels)])
    drain(hooked)
    [event] = receiver.events()
    assert event["type"] == "incident.triggered"
    [alert] = event["data"]["alerts"]
    assert (alert["summary"], alert["labels"]) == ("Disk full on db-1", labels)


def _serve_one_alert(runtime: Runtime, receiver: Receiver) -> list[Job]:
    """An Alertmanager alert POSTed to the app, its worker running in-process; once its
    incident's webhook arrived and nothing is left to send: the incident event jobs."""
    key = _alertmanager_key(runtime.settings)
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [{"status": "firing", "labels": {"alertname": "Down", "service": "api"}}],
    }
    with TestClient(create_app(runtime, run_worker=True)) as client:
        answer = client.post(f"/hooks/alertmanager/{key}", json=body)
        assert answer.status_code == 202, answer.text
        wait_until(lambda: len(receiver.requests) >= 1, what="the webhook", timeout=20)
        wait_until(  # its delivery's own job closed: nothing is left to send it again
            lambda: outbox_jobs_pending(runtime) == 0, what="the delivery recorded", timeout=20
        )
        wait_until(
            lambda: all(j.status == "done" for j in event_jobs(runtime)),
            what="the event's job done",
            timeout=20,
        )
    return event_jobs(runtime)


def event_jobs(runtime: Runtime) -> list[Job]:
    with runtime.read() as session:
        return list(session.scalars(select(Job).where(Job.kind == "incident_event")))


def outbox_jobs_pending(runtime: Runtime) -> int:
    with runtime.read() as session:
        pending = select(Job).where(Job.kind == "deliver", Job.status == "pending")
        return len(session.scalars(pending).all())


def test_the_ingest_that_opens_an_incident_runs_its_event_and_the_worker_sends_it(
    hooked: Runtime, receiver: Receiver
) -> None:
    """With a worker running in the process, an alert's new incident's event runs in the
    ingest's own transaction (it needs no job for a worker to claim), and the worker sends
    it once."""
    assert _serve_one_alert(hooked, receiver) == []  # run where it was queued: no job
    [event] = receiver.events()
    assert event["type"] == "incident.triggered"
    assert event["data"]["alerts"][0]["labels"] == {"alertname": "Down", "service": "api"}
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_an_incident_declared_as_the_worker_stops_is_sent_at_its_commit(
    hooked: Runtime, receiver: Receiver
) -> None:
    """A transaction that began while the worker ran hands it the new incident's webhook;
    committed after the worker stopped (a shutdown), the webhook is sent at once by the
    committing thread, not left to wait for its job's lease to end."""
    worker = hooked.worker()
    thread = worker.start_thread()
    with hooked.transaction(events_now=True) as session:
        incident_id = declare_in(session, hooked)
        worker.stop()
        thread.join(10)
    [event] = receiver.events()
    assert (event["type"], event["data"]["incident"]["id"]) == ("incident.triggered", incident_id)
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_when_running_an_ingests_events_fails_a_worker_runs_their_job_and_sends_once(
    hooked: Runtime, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = events_engine.bodies
    calls = []

    def failing_once(*args: Any, **kwargs: Any) -> list[str | None]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected: reading the event failed")
        return real(*args, **kwargs)

    monkeypatch.setattr(events_engine, "bodies", failing_once)
    [job] = _serve_one_alert(hooked, receiver)
    # the ingest's attempt left nothing but the job, which a worker claimed and ran
    assert (job.status, job.attempts) == ("done", 1)
    assert len(calls) == 2
    assert len(receiver.requests) == 1
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_an_event_waits_behind_an_earlier_one_of_its_incident_left_to_a_worker(
    hooked: Runtime, receiver: Receiver
) -> None:
    """Running a transaction's events in it must not overtake an earlier event of the same
    incident still waiting for a worker: then both are left to the worker, in order."""
    incident_id = declare(hooked)  # its event job waits: no worker has run
    with hooked.transaction() as session:
        move_in(session, hooked, incident_id, "acknowledge")
        ran = run_queued_events(
            session=session, handlers=hooked.handlers(), clock=hooked.clock, me="tester"
        )
    assert ran is None
    with hooked.read() as session:
        pending = session.scalars(select(Job.status).where(Job.kind == "incident_event")).all()
    assert pending == ["pending", "pending"]
    drain(hooked)
    assert [e["type"] for e in receiver.events()] == [
        "incident.triggered",
        "incident.acknowledged",
    ]


def test_events_of_a_run_here_transaction_left_to_a_worker_get_their_jobs_in_order(
    hooked: Runtime, receiver: Receiver
) -> None:
    """In a transaction that runs its events itself (as the intake's, with a worker in the
    process), an event that must wait behind an earlier one gets the job it had not been
    given, and a worker sends both in order; one that runs there needs none."""
    incident_id = declare(hooked)  # its event job waits: no worker has run
    with hooked.transaction() as session:
        session.info[RUN_HERE] = True  # what Runtime.transaction(events_now=True) sets
        move_in(session, hooked, incident_id, "acknowledge")
        assert event_jobs_in(session) == ["pending"]  # not written while it may run here
        ran = run_queued_events(
            session=session, handlers=hooked.handlers(), clock=hooked.clock, me="tester"
        )
    assert ran is None
    assert [j.status for j in event_jobs(hooked)] == ["pending", "pending"]
    drain(hooked)
    assert [e["type"] for e in receiver.events()] == [
        "incident.triggered",
        "incident.acknowledged",
    ]
    with hooked.transaction() as session:
        session.info[RUN_HERE] = True
        move_in(session, hooked, incident_id, "mitigate")
        ran = run_queued_events(
            session=session, handlers=hooked.handlers(), clock=hooked.clock, me="tester"
        )
    assert ran is not None
    assert [j.status for j in event_jobs(hooked)] == ["done", "done"]  # and no third
    with hooked.transaction() as session:
        ran.record(session, ran.work(), hooked.clock, "tester")
    assert [e["type"] for e in receiver.events()][-1] == "incident.mitigated"


def event_jobs_in(session: Session) -> list[str]:
    return list(session.scalars(select(Job.status).where(Job.kind == "incident_event")))


def test_a_transactions_events_run_in_it_are_done_and_sent_by_what_it_returns(
    hooked: Runtime, receiver: Receiver
) -> None:
    with hooked.transaction() as session:
        incident_id = declare_in(session, hooked)
        ran = run_queued_events(
            session=session, handlers=hooked.handlers(), clock=hooked.clock, me="tester"
        )
    assert ran is not None
    assert ran.done_first
    assert drain_count(hooked) == 0  # nothing left for a worker: its job is done
    assert receiver.requests == []  # sent only by the work returned
    outcome = ran.work()
    with hooked.transaction() as session:
        ran.record(session, outcome, hooked.clock, "tester")
    [event] = receiver.events()
    assert (event["type"], event["data"]["incident"]["id"]) == ("incident.triggered", incident_id)
    assert drain_count(hooked) == 0  # recorded: its delivery's job is closed too


def drain_count(runtime: Runtime) -> int:
    """How many jobs due now a worker would run."""
    return run_due(factory=runtime.factory, clock=runtime.clock, handlers=runtime.handlers())


def test_events_sent_together_each_carry_their_own_first_twenty_alerts(
    hooked: Runtime, receiver: Receiver
) -> None:
    """Two incidents opened by one ingest, their events fanned out together: each event
    carries its own incident's alerts, the first 20 by id when it has more."""

    def firing(service: str, n: int) -> NormalizedAlert:
        labels = {"alertname": "Down", "service": service, "instance": f"{service}-{n:02d}"}
        return NormalizedAlert(f"{service}-{n}", "firing", f"down {n}", "alertmanager", labels)

    ingest(hooked, [firing("api", n) for n in range(25)] + [firing("db", n) for n in range(2)])
    drain(hooked)
    carried = {
        e["data"]["incident"]["id"]: [a["fingerprint"] for a in e["data"]["alerts"]]
        for e in receiver.events()
    }
    assert sorted(carried.values()) == [
        [f"api-{n}" for n in range(20)],
        ["db-0", "db-1"],
    ]


def test_a_5xx_is_retried_with_the_same_webhook_id(
    hooked: Runtime, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.script = [503]
    declare(hooked)
    drain(hooked)
    assert len(receiver.requests) == 1
    clock.advance(timedelta(seconds=11))
    drain(hooked)
    assert len(receiver.requests) == 2
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        assert (delivery.status, delivery.attempts, delivery.channel) == ("sent", 2, "ops-events")


def test_a_burst_sent_together_records_each_answer_for_its_own_delivery(
    hooked: Runtime, receiver: Receiver, clock: FakeClock
) -> None:
    """Four events fanned out and sent together: the one answered 503 is tried again (same
    webhook-id), the one answered 400 fails with its timeline saying so, the others are
    sent once."""
    receiver.script = [200, 503, 400, 200]
    ids = [declare(hooked, f"burst {i}") for i in range(4)]
    drain(hooked)
    assert [e["data"]["incident"]["id"] for e in receiver.events()] == ids
    with hooked.read() as session:
        found = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        states = [(d.incident_id, d.status, d.attempts) for d in found]
    assert states == [
        (ids[0], "sent", 1),
        (ids[1], "queued", 1),
        (ids[2], "failed", 1),
        (ids[3], "sent", 1),
    ]
    clock.advance(timedelta(seconds=11))
    drain(hooked)
    assert [e["data"]["incident"]["id"] for e in receiver.events()] == [*ids, ids[1]]
    assert receiver.requests[1][0]["webhook-id"] == receiver.requests[4][0]["webhook-id"]
    with hooked.read() as session:
        statuses = [d.status for d in session.scalars(select(Delivery).order_by(Delivery.id))]
        kinds = [
            e.kind
            for e in session.scalars(
                select(TimelineEntry).where(TimelineEntry.incident_id == ids[2])
            )
        ]
    assert statuses == ["sent", "sent", "failed", "sent"]
    assert "notification_failed" in kinds


def test_when_recording_one_failed_try_of_a_burst_fails_only_that_one_is_sent_again(
    hooked: Runtime, receiver: Receiver, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three events sent together, the second answered 503, and recording that failure
    fails (the database, say): the two sent are recorded all the same, and only the
    second goes out again, under the same webhook-id, when its lease ends."""
    receiver.script = [200, 503]
    real = outbox.settle

    def failing_once(**kwargs: Any) -> Any:
        monkeypatch.setattr(outbox, "settle", real)
        raise RuntimeError("injected failure")

    monkeypatch.setattr(outbox, "settle", failing_once)
    ids = [declare(hooked, f"burst {i}") for i in range(3)]
    drain(hooked)
    assert [e["data"]["incident"]["id"] for e in receiver.events()] == ids
    with hooked.read() as session:
        statuses = [d.status for d in session.scalars(select(Delivery).order_by(Delivery.id))]
    assert statuses == ["sent", "queued", "sent"]
    clock.advance(LEASE + timedelta(seconds=1))
    drain(hooked)
    assert [e["data"]["incident"]["id"] for e in receiver.events()] == [*ids, ids[1]]
    assert receiver.requests[1][0]["webhook-id"] == receiver.requests[3][0]["webhook-id"]
    with hooked.read() as session:
        statuses = [d.status for d in session.scalars(select(Delivery).order_by(Delivery.id))]
    assert statuses == ["sent", "sent", "sent"]


def test_an_event_for_a_channel_that_could_not_be_built_fails_at_once(
    hooked: Runtime, receiver: Receiver
) -> None:
    """A subscribed channel missing from the runtime's channels: its delivery is not held
    for a lease but failed by its own job at once, saying why."""
    del hooked.channels["ops-events"]
    declare(hooked)
    drain(hooked)
    assert receiver.requests == []
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert delivery.status == "failed"
    assert delivery.last_error == "no channel named 'ops-events' is configured"


def test_a_worker_that_dies_after_sending_leaves_the_event_to_be_sent_again_after_its_lease(
    hooked: Runtime, receiver: Receiver, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event went out, then the worker died before recording it (as under SIGKILL): the
    job waits out its lease, then sends the event again under the same webhook-id."""
    channel = hooked.channels["ops-events"]
    send = channel.send

    def send_then_die(message: Message) -> None:
        send(message)
        monkeypatch.setattr(channel, "send", send)  # the next worker lives
        raise SystemExit("killed")

    monkeypatch.setattr(channel, "send", send_then_die)
    declare(hooked)
    with pytest.raises(SystemExit):
        drain(hooked)
    assert len(receiver.requests) == 1
    drain(hooked)  # leased: not due yet
    assert len(receiver.requests) == 1
    clock.advance(LEASE + timedelta(seconds=1))
    drain(hooked)
    assert len(receiver.requests) == 2
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_an_event_sent_with_its_job_is_not_sent_again_when_the_lease_ends(
    hooked: Runtime, receiver: Receiver, clock: FakeClock
) -> None:
    """The worker that queues an event's delivery sends it at once and closes the delivery's
    own job, which was leased meanwhile: nothing goes out again later."""
    declare(hooked)
    drain(hooked)
    assert len(receiver.requests) == 1
    with hooked.read() as session:
        deliver_jobs = session.scalars(select(Job).where(Job.kind == "deliver")).all()
        assert [(j.status, j.attempts) for j in deliver_jobs] == [("done", 0)]
    clock.advance(LEASE + timedelta(seconds=1))
    drain(hooked)
    assert len(receiver.requests) == 1
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_when_recording_a_sent_event_fails_the_worker_goes_on_and_it_is_sent_again_later(
    hooked: Runtime, receiver: Receiver, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event went out but recording it failed (the database, say): the worker goes on
    to the next job, and the delivery's own job sends it again under the same webhook-id
    when its lease ends."""
    real = outbox.settle_sent

    def failing_once(**kwargs: Any) -> Any:
        monkeypatch.setattr(outbox, "settle_sent", real)
        raise RuntimeError("injected failure")

    monkeypatch.setattr(outbox, "settle_sent", failing_once)
    first = declare(hooked, "first")
    drain(hooked)
    second = declare(hooked, "second")
    drain(hooked)  # the worker goes on
    assert [e["data"]["incident"]["id"] for e in receiver.events()] == [first, second]
    clock.advance(LEASE + timedelta(seconds=1))
    drain(hooked)
    assert [e["data"]["incident"]["id"] for e in receiver.events()] == [first, second, first]
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[2][0]["webhook-id"]
    with hooked.read() as session:
        statuses = [d.status for d in session.scalars(select(Delivery).order_by(Delivery.id))]
    assert statuses == ["sent", "sent"]


def test_events_of_a_burst_go_out_even_when_one_of_them_fails(
    hooked: Runtime, receiver: Receiver, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst of events (on SQLite fanned out together, in one transaction): one whose
    fan-out fails holds up none of the others, and goes out when it is tried again."""
    real = events_engine.bodies
    ids = [declare(hooked, f"burst {i}") for i in range(5)]

    def failing_with_the_third(session: Any, payloads: list[dict[str, Any]], *args: Any) -> Any:
        if any(p["incident_id"] == ids[2] for p in payloads):
            raise RuntimeError("injected failure")
        return real(session, payloads, *args)

    monkeypatch.setattr(events_engine, "bodies", failing_with_the_third)
    drain(hooked)
    sent = [e["data"]["incident"]["id"] for e in receiver.events()]
    assert sent == [ids[0], ids[1], ids[3], ids[4]]
    monkeypatch.undo()
    clock.advance(timedelta(seconds=3))  # the failed job's retry falls due
    drain(hooked)
    assert [e["data"]["incident"]["id"] for e in receiver.events()] == [*sent, ids[2]]
    with hooked.read() as session:
        statuses = {d.status for d in session.scalars(select(Delivery))}
    assert statuses == {"sent"}


def test_a_4xx_fails_at_once_and_the_timeline_says_so(
    hooked: Runtime, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.script = [410]
    incident_id = declare(hooked)
    drain(hooked)
    clock.advance(timedelta(hours=1))
    drain(hooked)
    assert len(receiver.requests) == 1
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery).where(Delivery.channel == "ops-events")).all()
        assert (delivery.status, delivery.attempts) == ("failed", 1)
        assert "HTTP 410" in (delivery.last_error or "")
    kinds = [e.kind for e in _timeline(hooked, incident_id)]
    assert "notification_failed" in kinds


def _timeline(runtime: Runtime, incident_id: int) -> list[Any]:
    from warroom.incidents import timeline

    with runtime.read() as session:
        return list(timeline.entries(session=session, incident_id=incident_id))


def test_a_redirect_is_not_followed_and_fails_at_once(hooked: Runtime, receiver: Receiver) -> None:
    receiver.script = [307]
    receiver.headers = {"Location": receiver.url + "/elsewhere"}
    declare(hooked)
    drain(hooked)
    assert len(receiver.requests) == 1
    with hooked.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert (delivery.last_error or "").startswith("PermanentError: ")
    assert "answered HTTP 307" in (delivery.last_error or "")


def test_a_webhook_gets_only_the_events_it_subscribed_to(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> None:
    path = channels_file(tmp_path, receiver.url, events=["incident.resolved"])
    rt = build_runtime(settings.model_copy(update={"channels_file": path}), clock=clock)
    rt.prepare_database()
    incident_id = declare(rt)
    move(rt, incident_id, "acknowledge")
    drain(rt)
    assert receiver.requests == []
    move(rt, incident_id, "resolve")
    drain(rt)
    assert [e["type"] for e in receiver.events()] == ["incident.resolved"]
    rt.engine.dispose()


@pytest.mark.parametrize(
    ("hook", "problem"),
    [
        (
            {"name": "x", "url": "http://127.0.0.1:9/e"},
            "webhooks[0]: secret or secret_env is required",
        ),
        ({"name": "x", "url": "ftp://h/e", "secret": SECRET}, "webhooks[0].url"),
        ({"name": "Bad Name", "url": "http://h/e", "secret": SECRET}, "webhooks[0].name"),
        (
            {"name": "x", "url": "http://h/e", "secret": SECRET, "events": ["incident.exploded"]},
            "webhooks[0].events[0]",
        ),
        (
            {"name": "x", "url": "http://h/e", "secret_env": "WARROOM_TEST_NO_SUCH_VAR"},
            "WARROOM_TEST_NO_SUCH_VAR is not set",
        ),
        ({"name": "console", "url": "http://h/e", "secret": SECRET}, "unique and not 'console'"),
    ],
)
def test_a_bad_channels_file_is_refused_naming_the_problem(
    settings: Settings, tmp_path: Path, hook: dict[str, Any], problem: str
) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(json.dumps({"webhooks": [hook]}))
    with pytest.raises(ChannelsError) as caught:
        build_runtime(settings.model_copy(update={"channels_file": path}))
    assert f"WARROOM_CHANNELS_FILE={path}" in caught.value.message
    assert problem in caught.value.message


def test_the_cli_says_in_one_line_what_is_wrong_with_the_channels_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text("webhooks: [{name: x, url: 'http://h/e'}]\n")
    monkeypatch.setenv("WARROOM_CHANNELS_FILE", str(path))
    result = cli("incident", "list")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "secret or secret_env is required" in result.err


def _alertmanager_key(settings: Settings) -> str:
    """The key of a new Alertmanager integration in the settings' database."""
    rt = build_runtime(settings)
    try:
        with rt.transaction() as session:
            return integrations.create(
                session=session,
                name="prom",
                kind="alertmanager",
                auth_token=None,
                now=rt.clock.now(),
            ).key
    finally:
        rt.engine.dispose()


@pytest.mark.slow
def test_a_real_server_sends_the_event_of_an_alert_without_waiting_for_its_poll(
    settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    """The worker polls every 60 s here: the event arrives because the commit wakes it."""
    env = warroom_env(
        settings.resolved_database_url(),
        settings.data_dir,
        WARROOM_CHANNELS_FILE=str(channels_file(tmp_path, receiver.url)),
        WARROOM_WORKER_POLL_SECONDS="60",
    )
    server = Server(env, tmp_path / "server.log")
    try:
        key = _alertmanager_key(settings)
        body = {
            "version": "4",
            "status": "firing",
            "alerts": [{"status": "firing", "labels": {"alertname": "Down", "service": "api"}}],
        }
        answer = httpx.post(f"{server.url}/hooks/alertmanager/{key}", json=body, timeout=10)
        assert answer.status_code == 202, answer.text
        wait_until(lambda: len(receiver.requests) >= 1, what="the webhook", timeout=20)
        assert receiver.events()[0]["data"]["alerts"][0]["labels"]["alertname"] == "Down"
    finally:
        server.kill()


@pytest.mark.slow
def test_a_slow_receiver_holds_up_no_ingest_while_its_event_is_sent(
    settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    """An event is sent with no database lock held: while a receiver sits on it (up to
    its 60 s timeout), an alert that waits for its own ingest is still ingested."""
    receiver.release = threading.Event()
    env = warroom_env(
        settings.resolved_database_url(),
        settings.data_dir,
        WARROOM_CHANNELS_FILE=str(channels_file(tmp_path, receiver.url, timeout_seconds=60)),
    )
    server = Server(env, tmp_path / "server.log")
    try:
        key = _alertmanager_key(settings)

        def alert(service: str) -> dict[str, Any]:
            labels = {"alertname": "Down", "service": service}
            return {
                "version": "4",
                "status": "firing",
                "alerts": [{"status": "firing", "labels": labels}],
            }

        hook = f"{server.url}/hooks/alertmanager/{key}"
        assert httpx.post(hook, json=alert("api"), timeout=10).status_code == 202
        wait_until(lambda: len(receiver.requests) >= 1, what="the first event", timeout=20)
        # the receiver holds the first event's request open; a bound far below its timeout
        answer = httpx.post(hook, params={"wait": "true"}, json=alert("db"), timeout=20)
        assert answer.status_code == 202, answer.text
        result = answer.json()
        assert result["ingested"] is True, result
        assert result["incidents"], result  # a new incident opened
        assert len(receiver.requests) == 1  # and the first event's request is still held
        receiver.release.set()
        wait_until(lambda: len(receiver.requests) >= 2, what="the second event", timeout=20)
        titles = [e["data"]["incident"]["title"] for e in receiver.events()]
        assert len(set(titles)) == 2, titles
    finally:
        receiver.release.set()
        server.kill()


def test_a_429_is_retried_no_sooner_than_retry_after_asks(
    hooked: Runtime, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.script = [429]
    receiver.headers = {"Retry-After": "120"}
    declare(hooked)
    drain(hooked)
    clock.advance(timedelta(seconds=60))  # past the 10 s backoff, not past Retry-After
    drain(hooked)
    assert len(receiver.requests) == 1
    clock.advance(timedelta(seconds=61))
    drain(hooked)
    assert len(receiver.requests) == 2


def test_deliveries_are_listed_with_their_status(
    hooked: Runtime, receiver: Receiver, clock: FakeClock
) -> None:
    from warroom.auth import service as auth

    receiver.script = [500]
    incident_id = declare(hooked)
    drain(hooked)
    with hooked.transaction() as session:
        _, secret = auth.create_token(session=session, name="v", role="viewer", now=clock.now())
    with TestClient(create_app(hooked, run_worker=False)) as client:
        auth_header = {"Authorization": f"Bearer {secret}"}
        page = client.get("/api/v1/deliveries", headers=auth_header).json()
        [item] = page["items"]
        assert (item["channel"], item["status"], item["attempts"]) == ("ops-events", "queued", 1)
        assert "HTTP 500" in item["last_error"]
        assert item["incident_id"] == incident_id
        clock.advance(timedelta(seconds=11))
        drain(hooked)
        sent = client.get(
            "/api/v1/deliveries", headers=auth_header, params={"status": "sent"}
        ).json()
        assert [d["id"] for d in sent["items"]] == [item["id"]]
        assert (
            client.get(
                "/api/v1/deliveries", headers=auth_header, params={"status": "failed"}
            ).json()["total"]
            == 0
        )
        bad = client.get("/api/v1/deliveries", headers=auth_header, params={"status": "lost"})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"]["field"] == "status"
        assert client.get("/api/v1/deliveries").status_code == 401


def test_channel_list_and_test_send_for_real(
    cli: Cli, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARROOM_CHANNELS_FILE", str(channels_file(tmp_path, receiver.url)))
    listed = cli("channel", "list", "--json")
    assert listed.code == 0, listed.err
    assert [c["name"] for c in json.loads(listed.out)] == ["console", "ops-events"]
    sent = cli("channel", "test", "ops-events")
    assert sent.code == 0, sent.err
    assert sent.out.strip() == "ops-events: sent (HTTP 200)"
    [(headers, body)] = receiver.requests
    assert Webhook(SECRET).verify(body, headers)["type"] == "warroom.test"
    receiver.script = [404]
    refused = cli("channel", "test", "ops-events")
    assert refused.code == 1
    assert "HTTP 404" in refused.err
    unknown = cli("channel", "test", "pager")
    assert unknown.code != 0
    assert "no channel named 'pager'" in unknown.err
