"""The outbox's retries and failures, re-planning rules, and edge input on API and CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import Api, Cli
from warroom.auth import service as auth
from warroom.clock import FakeClock
from warroom.engine.worker import run_due
from warroom.incidents import changes, service, timeline
from warroom.incidents.schemas import IncidentCreate
from warroom.notify.base import Message, Receipt
from warroom.notify.models import Delivery
from warroom.notify.outbox import MAX_ATTEMPTS
from warroom.runtime import Runtime

INCIDENTS = "/api/v1/incidents"


class BrokenChannel:
    name = "console"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: Message) -> Receipt:
        self.calls += 1
        raise ConnectionError("provider unreachable")


def _drain(runtime: Runtime) -> None:
    while run_due(factory=runtime.factory, clock=runtime.clock, handlers=runtime.handlers()):
        pass


def _declare_p1(runtime: Runtime, clock: FakeClock) -> int:
    with runtime.transaction() as session:
        incident, _ = service.declare(
            session=session,
            playbook=runtime.playbook,
            actor="t",
            clock=clock,
            data=IncidentCreate(title="x", severity="P1"),
        )
        return incident.id


def test_a_failing_channel_is_retried_then_the_failure_is_on_the_timeline(
    runtime: Runtime, clock: FakeClock
) -> None:
    broken = BrokenChannel()
    runtime.channels["console"] = broken
    incident_id = _declare_p1(runtime, clock)
    clock.advance(timedelta(minutes=16))
    _drain(runtime)
    assert broken.calls == 1
    for _ in range(MAX_ATTEMPTS):  # retries wait 10 s, 20 s, 40 s, 80 s: 3 min covers each,
        clock.advance(timedelta(minutes=3))  # and all stay before the next phase's deadline
        _drain(runtime)
    assert broken.calls == MAX_ATTEMPTS
    with runtime.read() as session:
        (delivery,) = session.scalars(select(Delivery)).all()
        kinds = [e.kind for e in timeline.entries(session=session, incident_id=incident_id)]
        failed = [
            e
            for e in timeline.entries(session=session, incident_id=incident_id)
            if e.kind == "notification_failed"
        ]
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert "provider unreachable" in (delivery.last_error or "")
    assert kinds.count("notification_failed") == 1
    assert failed[0].data["attempts"] == MAX_ATTEMPTS


def test_a_channel_that_recovers_delivers_once(runtime: Runtime, clock: FakeClock) -> None:
    broken = BrokenChannel()
    runtime.channels["console"] = broken
    _declare_p1(runtime, clock)
    clock.advance(timedelta(minutes=16))
    _drain(runtime)
    sent: list[Message] = []

    class Working:
        name = "console"

        def send(self, message: Message) -> Receipt:
            sent.append(message)
            return Receipt(channel="console", detail="ok")

    runtime.channels["console"] = Working()
    clock.advance(timedelta(minutes=3))
    _drain(runtime)
    _drain(runtime)
    assert len(sent) == 1
    with runtime.read() as session:
        (delivery,) = session.scalars(select(Delivery)).all()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, None)


def test_severity_change_on_a_closed_incident_is_recorded_and_replanned_on_reopen(
    api: Api, clock: FakeClock
) -> None:
    iid = api.client.post(
        INCIDENTS, headers=api.responder, json={"title": "x", "severity": "P1"}
    ).json()["id"]
    assert api.client.post(f"{INCIDENTS}/{iid}/resolve", headers=api.responder).is_success
    assert api.client.post(f"{INCIDENTS}/{iid}/close", headers=api.commander).is_success
    patched = api.client.patch(
        f"{INCIDENTS}/{iid}", headers=api.responder, json={"severity": "P0"}
    ).json()
    assert patched["severity"] == "P0"
    assert not any(p["key"].startswith("p0-") for p in patched["phases"])
    clock.advance(timedelta(minutes=1))
    reopened = api.client.post(f"{INCIDENTS}/{iid}/reopen", headers=api.commander).json()
    keys = [p["key"] for p in reopened["phases"]]
    assert keys == ["p0-immediate-response", "p0-assessment", "p0-recovery"]
    first = reopened["phases"][0]
    assert first["starts_at"].startswith(clock.now().strftime("%Y-%m-%dT%H:%M"))


@pytest.mark.parametrize("ref", ["²", "99999999999999999999999", "-1"])
def test_odd_task_references_are_404(api: Api, ref: str) -> None:
    iid = api.client.post(
        INCIDENTS, headers=api.responder, json={"title": "x", "severity": "P1"}
    ).json()["id"]
    response = api.client.post(f"{INCIDENTS}/{iid}/tasks/{ref}/complete", headers=api.responder)
    assert response.status_code == 404
    assert response.json()["error"]["details"]["field"] == "task"


@pytest.mark.parametrize(
    "params",
    [
        {"q": "a\x00b"},
        {"severity": "P9"},
        {"type": "nope"},
        {"created_after": "2026-01-01T00:00:00"},
    ],
)
def test_bad_list_filters_are_422_naming_the_field(api: Api, params: dict[str, str]) -> None:
    response = api.client.get(INCIDENTS, headers=api.viewer, params=params)
    assert response.status_code == 422, response.text
    field = next(iter(params))
    assert response.json()["error"]["details"]["field"] == field


def test_created_after_filters_by_declaration_time(api: Api, clock: FakeClock) -> None:
    api.client.post(INCIDENTS, headers=api.responder, json={"title": "old", "severity": "P3"})
    clock.advance(timedelta(hours=2))
    cut = clock.now().isoformat()
    api.client.post(INCIDENTS, headers=api.responder, json={"title": "new", "severity": "P3"})
    page = api.client.get(INCIDENTS, headers=api.viewer, params={"created_after": cut}).json()
    assert [i["title"] for i in page["items"]] == ["new"]
    page = api.client.get(INCIDENTS, headers=api.viewer, params={"created_before": cut}).json()
    assert [i["title"] for i in page["items"]] == ["old"]


def test_idempotency_keys_are_per_token_even_with_colons_in_names(
    api: Api, runtime: Runtime
) -> None:
    headers = {}
    with runtime.transaction() as session:
        for name in ("a", "a:b"):
            _, secret = auth.create_token(
                session=session, name=name, role="responder", now=runtime.clock.now()
            )
            headers[name] = {"Authorization": f"Bearer {secret}"}
    body = {"title": "same", "severity": "P2"}
    first = api.client.post(
        INCIDENTS, json=body, headers={**headers["a"], "Idempotency-Key": "b:c"}
    )
    second = api.client.post(
        INCIDENTS, json=body, headers={**headers["a:b"], "Idempotency-Key": "c"}
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_readyz_is_ready_on_a_current_schema(api: Api) -> None:
    assert api.client.get("/readyz").json() == {"status": "ready"}


@pytest.mark.parametrize(
    "args",
    [
        ("incident", "show", "99999999999999999999"),
        ("incident", "show", "0"),
        ("incident", "assign", "1", "incident-commander", "²"),
    ],
)
def test_cli_odd_ids_are_one_line_errors(cli: Cli, args: tuple[str, ...]) -> None:
    cli("incident", "declare", "--title", "x", "--severity", "P2")
    result = cli(*args)
    assert result.code in (2, 3)
    assert "Traceback" not in result.err
    assert result.err.strip()


def test_cli_names_a_broken_playbook_setting(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    monkeypatch.setenv("WARROOM_PLAYBOOK", str(broken))
    result = cli("incident", "list")
    assert result.code == 2
    assert f"WARROOM_PLAYBOOK={broken}" in result.err
    assert "not valid YAML" in result.err


def test_cli_refuses_an_overlong_actor(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_ACTOR", "x" * 201)
    result = cli("incident", "declare", "--title", "x", "--severity", "P2")
    assert result.code == 2
    assert "WARROOM_ACTOR" in result.err
    assert cli("incident", "list", "--json").out.count('"id"') == 0


def test_a_deadline_passed_while_resolved_is_checked_on_reopen(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident_id = _declare_p1(runtime, clock)
    with runtime.transaction() as session:
        changes.transition(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            action="resolve",
            actor="t",
            clock=clock,
        )
    clock.advance(timedelta(minutes=20))
    _drain(runtime)

    def overdue() -> list[str]:
        with runtime.read() as session:
            return [
                e.data["phase"]
                for e in timeline.entries(session=session, incident_id=incident_id)
                if e.kind == "phase_overdue"
            ]

    assert overdue() == []
    with runtime.transaction() as session:
        reopened = changes.transition(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            action="reopen",
            actor="t",
            clock=clock,
        )
        assert not any(p.active and p.stage == "post_incident" for p in reopened.phases)
    _drain(runtime)
    assert overdue() == ["p1-assessment"]
    _drain(runtime)
    assert overdue() == ["p1-assessment"]


def test_a_delivery_queued_in_a_savepoint_rolled_back_is_gone(
    runtime: Runtime, clock: FakeClock
) -> None:
    """As when one of several event jobs run together fails: the delivery it queued goes
    with its savepoint, and the next one queued in the same transaction is stored."""
    from warroom.notify import outbox

    incident_id = _declare_p1(runtime, clock)
    message = Message(recipient="ops", subject="s", body="b")
    with runtime.transaction() as session:
        dropped: list[Delivery] = []

        def queue_then_fail() -> None:
            with session.begin_nested():
                dropped.append(
                    outbox.queue(
                        session=session,
                        channel="console",
                        message=message,
                        now=clock.now(),
                        incident_id=incident_id,
                    )
                )
                raise RuntimeError("the job failed")

        with pytest.raises(RuntimeError):
            queue_then_fail()
        kept = outbox.queue(
            session=session,
            channel="console",
            message=message,
            now=clock.now(),
            incident_id=incident_id,
        )
        assert dropped[0] is not kept
        kept_id = kept.id
    with runtime.read() as session:
        stored = session.scalars(select(Delivery.id).where(Delivery.incident_id == incident_id))
        assert kept_id in set(stored)
        assert session.get(Delivery, kept_id) is not None
