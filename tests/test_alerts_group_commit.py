"""Group commit of alert hooks: requests that arrive together share a transaction, yet each
is answered on its own, after the commit, and one bad request never fails another."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api, Cli
from tests.test_alerts_hooks import (
    CLIENTS,
    _at_once,
    alerts,
    am_alert,
    am_payload,
    create_integration,
    incidents,
    kinds,
)
from warroom.alerts import backlog, journal, service
from warroom.alerts.backlog import Submission
from warroom.runtime import Runtime

INCIDENTS = "/api/v1/incidents"


def _numbered() -> Any:
    counter = iter(range(10_000))
    lock = threading.Lock()

    def next_number() -> int:
        with lock:
            return next(counter)

    return next_number


@CLIENTS
def test_good_and_bad_requests_at_once_are_each_answered_on_their_own(
    api: Api, per_thread_client: bool
) -> None:
    open_key = create_integration(api, "prom", "alertmanager")["key"]
    guarded_key = create_integration(api, "guarded", "alertmanager", "s3cret-token-0123456789")[
        "key"
    ]
    number = _numbered()
    expected: dict[int, int] = {}

    def send(client: TestClient) -> Any:
        n = number()
        labels = {"alertname": "NodeDown", "service": f"svc{n % 3}", "instance": f"node-{n}"}
        body = am_payload(am_alert(labels))
        kind = n % 4
        expected[n] = (202, 404, 401, 202)[kind]
        if kind == 1:
            return client.post("/hooks/alertmanager/no-such-key", json=body), n
        if kind == 2:
            return client.post(f"/hooks/alertmanager/{guarded_key}", json=body), n
        if kind == 3:
            return client.post(
                f"/hooks/alertmanager/{guarded_key}",
                json=body,
                headers={"Authorization": "Bearer s3cret-token-0123456789"},
            ), n
        return client.post(f"/hooks/alertmanager/{open_key}", json=body), n

    answers: list[tuple[int, int]] = []

    def record(client: TestClient) -> Any:
        response, n = send(client)
        answers.append((n, response.status_code))
        return response

    _at_once(api, 24, per_thread_client, record)
    assert sorted(answers) == sorted(expected.items())
    stored = alerts(api)
    assert len(stored) == 12  # the 6 open and the 6 authorised: nothing from the others
    instances = sorted(int(a["labels"]["instance"].split("-")[1]) for a in stored)
    assert instances == sorted(n for n, status in expected.items() if status == 202)
    assert len(incidents(api)) == 6  # 3 services x 2 integrations


@CLIENTS
def test_alerts_written_together_keep_every_timeline_chain_whole(
    api: Api, per_thread_client: bool
) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    number = _numbered()

    def send(client: TestClient) -> Any:
        n = number()
        firing = am_alert({"alertname": "Disk", "service": f"db{n % 2}", "instance": f"i{n}"})
        resolved = {**firing, "status": "resolved", "endsAt": firing["startsAt"]}
        both = am_payload(firing, resolved) if n % 5 == 0 else am_payload(firing)
        return client.post(f"/hooks/alertmanager/{key}", json=both)

    assert _at_once(api, 20, per_thread_client, send) == [202] * 20
    opened = incidents(api)
    assert len(opened) == 2
    for one in opened:
        verdict = api.client.get(f"{INCIDENTS}/{one['id']}/timeline/verify", headers=api.viewer)
        assert verdict.status_code == 200, verdict.text
        assert verdict.json()["ok"] is True, verdict.json()
        assert kinds(api, one["id"]).count("alert_attached") == 10
        assert kinds(api, one["id"]).count("alert_resolved") == 2


def test_a_request_whose_shared_store_fails_is_retried_alone(
    api: Api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that breaks the transaction storing it gets a 500; those that shared the
    transaction with it are stored again on their own and answered 202. On SQLite the event
    loop stores them in the intake's journal; elsewhere the intake thread in its table."""
    key = create_integration(api, "prom", "alertmanager")["key"]
    if journal.path_for(runtime.settings.resolved_database_url()) is not None:
        real_insert = journal.Appender._insert

        def failing_insert(
            self: journal.Appender, rows: list[tuple[Any, ...]], *counted: int
        ) -> None:
            real_insert(self, rows, *counted)  # writes, then breaks: the transaction must roll back
            if any(b"poison" in _text(row) for row in rows):
                raise RuntimeError("injected failure")

        monkeypatch.setattr(journal.Appender, "_insert", failing_insert)
    else:
        real = backlog.store

        def failing(**kwargs: Any) -> Any:
            submissions: list[Submission] = kwargs["submissions"]
            if any(a.labels.get("poison") for s in submissions for a in backlog.alerts_of(s)):
                real(**kwargs)  # writes, then breaks: the transaction must roll back
                raise RuntimeError("injected failure")
            return real(**kwargs)

        monkeypatch.setattr(backlog, "store", failing)
    codes = _at_once(api, 16, False, _sender(key, poisoned=5))
    assert sorted(codes) == [202] * 15 + [500]
    stored = alerts(api)
    assert len(stored) == 15
    assert not [a for a in stored if a["labels"].get("poison")]
    [opened] = incidents(api)
    assert kinds(api, opened["id"]).count("alert_attached") == 15
    assert api.settle()["failed"] == 0


def test_an_entry_that_cannot_be_ingested_is_set_aside_and_holds_up_nothing(
    api: Api, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request is answered 202 (its alerts are committed); when ingesting a batch fails,
    each entry is ingested alone, and the one that still fails keeps its error in the intake
    (counted as failed) while the others are ingested. Once fixed, `warroom alert intake
    --retry` ingests those set aside."""
    key = create_integration(api, "prom", "alertmanager")["key"]
    real = service.ingest_entries

    def failing(**kwargs: Any) -> Any:
        entries: list[service.Entry] = kwargs["entries"]
        if any(a.labels.get("poison") for e in entries for a in e.alerts):
            real(**kwargs)  # writes, then breaks: the transaction must roll back
            raise RuntimeError("injected failure")
        return real(**kwargs)

    monkeypatch.setattr(service, "ingest_entries", failing)
    assert _at_once(api, 16, False, _sender(key, poisoned=5)) == [202] * 16
    state = api.settle()
    assert (state["pending"], state["failed"]) == (0, 1)
    loads = [a for a in alerts(api) if a["labels"]["alertname"] == "Load"]
    assert len(loads) == 15
    assert not [a for a in loads if a["labels"].get("poison")]
    [alarmed] = [i for i in incidents(api) if i["title"].startswith("warroom could not")]
    [opened] = [i for i in incidents(api) if i["id"] != alarmed["id"]]
    assert kinds(api, opened["id"]).count("alert_attached") == 15
    # the failure is an alert of its own, routed like any other: here a P1 incident
    [alarm] = [a for a in alerts(api) if a["labels"]["alertname"] == "WarroomIntakeFailed"]
    assert (alarm["status"], alarm["source"], alarm["count"]) == ("firing", "warroom", 1)
    assert alarm["incident_id"] == alarmed["id"]
    assert alarmed["severity"] == "P1"
    assert alarmed["title"].startswith("warroom could not ingest alerts it accepted")
    waited = api.client.post(
        f"/hooks/alertmanager/{key}?wait=true",
        json=am_payload(am_alert({"alertname": "Load", "service": "api", "poison": "again"})),
    )
    assert waited.status_code == 202, waited.text
    assert waited.json() == {"status": "accepted", "alerts": 1, "ingested": False}
    assert api.settle()["failed"] == 2
    assert [a["count"] for a in alerts(api) if a["source"] == "warroom"] == [2]  # one alert
    assert len(incidents(api)) == 2
    shown = cli("alert", "intake")
    assert shown.code == 0, shown.err
    assert "set aside after failing: 2" in shown.out

    monkeypatch.undo()  # the fix
    retried = cli("alert", "intake", "--retry", "--json")
    assert retried.code == 0, retried.err
    assert "2 request(s) set aside were tried again; 0 failed again" in retried.out
    assert json.loads(retried.out[retried.out.index("{") :]) == {
        "pending": 0,
        "pending_alerts": 0,
        "failed": 0,
        "oldest": None,
    }
    assert len([a for a in alerts(api) if a["labels"].get("poison")]) == 2
    assert kinds(api, opened["id"]).count("alert_attached") == 17


def _text(row: tuple[Any, ...]) -> bytes:
    """A journal row's values as bytes (the body of an Alertmanager request is one)."""
    return b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in row)


def _sender(key: str, poisoned: int) -> Any:
    number = _numbered()

    def send(client: TestClient) -> Any:
        n = number()
        labels = {"alertname": "Load", "service": "api", "instance": f"i{n}"}
        if n == poisoned:
            labels["poison"] = "yes"
        return client.post(f"/hooks/alertmanager/{key}", json=am_payload(am_alert(labels)))

    return send


def test_one_transaction_takes_submissions_of_several_integrations(runtime: Runtime) -> None:
    """The intake as the thread uses it: each submission is stored or refused on its own (an
    unknown key or wrong token stores nothing), then one ingest of all the entries gives each
    its own result; a repeat within one ingest is a duplicate."""
    from warroom.alerts import integrations
    from warroom.alerts.normalize import NormalizedAlert
    from warroom.errors import NotFound, Unauthorized

    with runtime.transaction() as session:
        first = integrations.create(
            session=session, name="a", kind="alertmanager", auth_token=None, now=runtime.clock.now()
        )
        second = integrations.create(
            session=session,
            name="b",
            kind="generic",
            auth_token="b-token-0123456789abcdef",
            now=runtime.clock.now(),
        )
        keys = (first.key, second.key)

    def alert(fingerprint: str) -> NormalizedAlert:
        labels = {"alertname": "X", "service": "s", "severity": "critical", "i": fingerprint}
        return NormalizedAlert(
            fingerprint=fingerprint, status="firing", summary="X", source="t", labels=labels
        )

    submissions = [
        Submission(key=keys[0], kind="alertmanager", token=None, alerts=[alert("f1")]),
        Submission(key="unknown", kind="alertmanager", token=None, alerts=[alert("f2")]),
        Submission(key=keys[0], kind="alertmanager", token=None, alerts=[alert("f1")], wait=True),
        Submission(key=keys[1], kind="generic", token="wrong", alerts=[alert("f3")]),
        Submission(key=keys[1], kind="alertmanager", token=None, alerts=[alert("f4")]),
        Submission(
            key=keys[1], kind="generic", token="b-token-0123456789abcdef", alerts=[alert("f1")]
        ),
    ]
    with runtime.transaction() as session:
        outcomes = backlog.store(session=session, submissions=submissions, now=runtime.clock.now())
    assert [type(o).__name__ for o in outcomes] == [
        "Stored",
        NotFound.__name__,
        "Stored",
        Unauthorized.__name__,
        NotFound.__name__,  # a key of another kind of integration is unknown here
        "Stored",
    ]
    stored = [o for o in outcomes if isinstance(o, backlog.Stored)]
    assert [o.alerts for o in stored] == [1, 1, 1]
    assert [o.entry_id is not None for o in stored] == [False, True, False]
    with runtime.read() as session:
        ids = backlog.next_ids(session=session, max_alerts=1000)
    assert len(ids) == 3
    with runtime.transaction() as session:
        taken, results = _ingest_by_hand(runtime, session, ids)
    assert [t.id for t in taken] == ids
    assert [t.wait for t in taken] == [False, True, False]
    made, again, other = results
    assert (made.created, made.deduplicated) == (1, 0)
    assert (again.created, again.deduplicated) == (0, 1)
    assert (other.created, other.deduplicated) == (1, 0)  # same fingerprint, other integration
    assert made.incidents
    assert other.incidents
    assert made.incidents != other.incidents
    with runtime.read() as session:
        assert backlog.state(session=session).pending == 0
    waited = stored[1].entry_id
    assert waited is not None
    with runtime.read() as session:  # the waiting request reads what its ingest did
        done, result = backlog.outcome(session=session, entry_id=waited)
    assert done
    assert result == again
    with runtime.transaction() as session:  # and then forgets it
        backlog.forget(session=session, entry_id=waited)
    with runtime.read() as session:
        assert backlog.outcome(session=session, entry_id=waited) == (True, None)


def test_alerts_committed_but_not_ingested_are_ingested_at_the_next_start(
    runtime: Runtime,
) -> None:
    """A crash between the 2xx and the ingest loses nothing: what the intake stored (as it
    does before answering) is ingested when the app starts again."""
    from warroom.alerts import integrations
    from warroom.alerts.normalize import NormalizedAlert
    from warroom.auth import service as auth
    from warroom.web.app import create_app

    with runtime.transaction() as session:
        prom = integrations.create(
            session=session, name="p", kind="alertmanager", auth_token=None, now=runtime.clock.now()
        )
        _, token = auth.create_token(
            session=session, name="viewer", role="viewer", now=runtime.clock.now()
        )
    labels = {"alertname": "DiskFull", "service": "db", "severity": "critical"}
    firing = NormalizedAlert(
        fingerprint="disk", status="firing", summary="Disk full", source="t", labels=labels
    )
    with runtime.transaction() as session:
        backlog.store(
            session=session,
            submissions=[
                Submission(key=prom.key, kind="alertmanager", token=None, alerts=[firing])
            ],
            now=runtime.clock.now(),
        )
    with TestClient(create_app(runtime, run_worker=False)) as client:
        api = Api(client=client, admin={}, commander={}, security={}, responder={}, viewer={})
        api.viewer = {"Authorization": f"Bearer {token}"}
        assert api.settle() == {
            "pending": 0,
            "pending_alerts": 0,
            "failed": 0,
            "oldest_received_at": None,
        }
        [stored] = alerts(api)
        assert (stored["fingerprint"], stored["status"]) == ("disk", "firing")
        [opened] = incidents(api)
        assert stored["incident_id"] == opened["id"]


def test_a_result_no_request_came_back_for_is_dropped(runtime: Runtime) -> None:
    """The result kept for a request that waits for its ingest is deleted once read, or, if
    the request went away, by the ingester's tidying (after 5 minutes)."""
    from datetime import timedelta

    from warroom.alerts import integrations
    from warroom.alerts.normalize import NormalizedAlert

    now = runtime.clock.now()
    with runtime.transaction() as session:
        prom = integrations.create(
            session=session, name="p", kind="alertmanager", auth_token=None, now=now
        )
    firing = NormalizedAlert(fingerprint="f", status="firing", summary="X", source="t")
    with runtime.transaction() as session:
        [stored] = backlog.store(
            session=session,
            submissions=[
                Submission(
                    key=prom.key, kind="alertmanager", token=None, alerts=[firing], wait=True
                )
            ],
            now=now,
        )
    assert isinstance(stored, backlog.Stored)
    assert stored.entry_id is not None
    with runtime.transaction() as session:
        _ingest_by_hand(runtime, session, [stored.entry_id])
        backlog.forget_unread(session=session, before=now)  # not older than that: kept
    with runtime.read() as session:
        assert backlog.state(session=session).pending == 0  # a kept result is not pending
    with runtime.transaction() as session:
        backlog.forget_unread(session=session, before=now + timedelta(seconds=1))
    with runtime.transaction() as session:
        assert backlog.outcome(session=session, entry_id=stored.entry_id) == (True, None)


def _ingest_by_hand(
    runtime: Runtime, session: Any, ids: list[int]
) -> tuple[list[backlog.Taken], list[service.IngestResult]]:
    """What the ingester does with these entries, in the caller's transaction."""
    taken = backlog.take(session=session, ids=ids)
    results = service.ingest_entries(
        session=session,
        playbook=runtime.playbook,
        entries=[t.entry for t in taken],
        clock=runtime.clock,
    )
    backlog.finish(session=session, taken=taken, results=results)
    return taken, results


def test_new_alerts_of_one_ingest_are_written_as_they_end_it(runtime: Runtime) -> None:
    """New alerts are written together when the ingest ends, in the state they reached in it:
    one repeated gets its count, one resolved is resolved, one firing again after resolving
    is a second alert; ids follow arrival order, and the timeline names the stored ids."""
    from sqlalchemy import select

    from warroom.alerts import integrations
    from warroom.alerts.models import Alert
    from warroom.alerts.normalize import NormalizedAlert
    from warroom.incidents import timeline

    with runtime.transaction() as session:
        prom = integrations.create(
            session=session, name="p", kind="alertmanager", auth_token=None, now=runtime.clock.now()
        )

    def alert(fingerprint: str, status: str = "firing") -> NormalizedAlert:
        labels = {"alertname": "Disk", "service": "db", "severity": "critical", "i": fingerprint}
        return NormalizedAlert(
            fingerprint=fingerprint, status=status, summary=fingerprint, source="t", labels=labels
        )

    sent = [
        [alert("a")],
        [alert("b")],
        [alert("a")],  # a repeat
        [alert("b", "resolved")],
        [alert("b")],  # fires again: a new alert
        [alert("c")],
    ]
    entries = [service.Entry(integration_id=prom.id, alerts=a) for a in sent]
    with runtime.transaction() as session:
        results = service.ingest_entries(
            session=session, playbook=runtime.playbook, entries=entries, clock=runtime.clock
        )
    assert [(r.created, r.deduplicated, r.resolved) for r in results] == [
        (1, 0, 0),
        (1, 0, 0),
        (0, 1, 0),
        (0, 0, 1),
        (1, 0, 0),
        (1, 0, 0),
    ]
    with runtime.read() as session:
        rows = session.scalars(select(Alert).order_by(Alert.id)).all()
        stored = [(a.fingerprint, a.status, a.count, a.ends_at is not None) for a in rows]
        assert stored == [
            ("a", "firing", 2, False),
            ("b", "resolved", 1, True),
            ("b", "firing", 1, False),
            ("c", "firing", 1, False),
        ]
        [incident_id] = {a.incident_id for a in rows}
        assert incident_id is not None
        named = [
            (e.kind, e.data["alert_id"])
            for e in timeline.entries(session=session, incident_id=incident_id)
            if "alert_id" in e.data
        ]
    ids = [a.id for a in rows]
    assert named == [
        ("alert_attached", ids[0]),
        ("alert_attached", ids[1]),
        ("alert_resolved", ids[1]),
        ("alert_attached", ids[2]),
        ("alert_attached", ids[3]),
    ]


def test_a_stored_alert_resolved_and_firing_again_in_one_ingest_is_two_alerts(
    runtime: Runtime,
) -> None:
    """An alert stored earlier (with no incident: info) that resolves and fires again within
    one ingest: the stored one is resolved before the new one is written, so the rule of one
    firing alert per fingerprint holds and the ingest goes through together."""
    from sqlalchemy import select

    from warroom.alerts import integrations
    from warroom.alerts.models import Alert
    from warroom.alerts.normalize import NormalizedAlert

    with runtime.transaction() as session:
        prom = integrations.create(
            session=session, name="p", kind="alertmanager", auth_token=None, now=runtime.clock.now()
        )

    def entry(status: str) -> service.Entry:
        labels = {"alertname": "Note", "service": "db", "severity": "info"}
        alert = NormalizedAlert(
            fingerprint="n", status=status, summary="note", source="t", labels=labels
        )
        return service.Entry(integration_id=prom.id, alerts=[alert])

    for entries in ([entry("firing")], [entry("resolved"), entry("firing")]):
        with runtime.transaction() as session:
            service.ingest_entries(
                session=session, playbook=runtime.playbook, entries=entries, clock=runtime.clock
            )
    with runtime.read() as session:
        rows = session.scalars(select(Alert).order_by(Alert.id)).all()
        assert [(a.status, a.incident_id) for a in rows] == [("resolved", None), ("firing", None)]
