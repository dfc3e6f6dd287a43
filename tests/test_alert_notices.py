"""The first notice of an alert group (``alert.firing``): sent to a real receiver on
127.0.0.1 as soon as the request is committed, before ingesting; once per group while it
fires; never for a silenced alert or one whose route opens no incident; recorded in the
outbox, and retried from there when the receiver fails. Both backends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from standardwebhooks import Webhook

from tests.receivers import SECRET, Receiver, drain
from warroom.alerts import ingester, notices
from warroom.auth import service as auth
from warroom.clock import FakeClock
from warroom.errors import ChannelsError
from warroom.notify.config import load_channels
from warroom.notify.models import Delivery
from warroom.runtime import Runtime, build_runtime
from warroom.settings import Settings
from warroom.web.app import create_app

INCIDENTS = "/api/v1/incidents"


@dataclass
class Noticed:
    """An app whose one webhook channel takes ``alert.firing`` (and ``incident.triggered``),
    an Alertmanager integration and a generic one, and the receiver."""

    runtime: Runtime
    client: TestClient
    headers: dict[str, str]
    receiver: Receiver
    alertmanager: str  # its hook's path
    generic: str

    def fire(self, *alerts: dict[str, Any], path: str | None = None) -> None:
        body = {"version": "4", "status": "firing", "alerts": list(alerts)}
        response = self.client.post(path or self.alertmanager, json=body)
        assert response.status_code == 202, response.text

    def notices(self) -> list[dict[str, Any]]:
        return [e for e in self.receiver.events() if e["type"] == notices.EVENT]

    def settle(self) -> None:
        """Wait until every request answered is ingested."""
        deadline = time.monotonic() + 30
        while self.client.get("/api/v1/alerts/intake", headers=self.headers).json()["pending"]:
            assert time.monotonic() < deadline
            time.sleep(0.005)

    def deliveries(self) -> list[Delivery]:
        with self.runtime.read() as session:
            return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def alert(name: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "service": "checkout", "severity": "critical", **labels},
        "annotations": {"summary": f"{name} on checkout"},
        "startsAt": "2026-12-07T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-07T10:05:00Z",
        "generatorURL": "http://prometheus.local/graph",
    }


def wait_for(what: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def channels(tmp_path: Path, url: str, events: list[str]) -> Path:
    # a try ends by its answer or by the app stopping, not by its own timeout (5 s by default,
    # which a loaded machine can take to answer it)
    hook = {
        "name": "ops-events",
        "url": url,
        "secret": SECRET,
        "events": events,
        "timeout_seconds": 60,
    }
    path = tmp_path / "channels.yaml"
    path.write_text(json.dumps({"webhooks": [hook]}))
    return path


@contextmanager
def start(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path, events: list[str]
) -> Iterator[Noticed]:
    configured = settings.model_copy(
        update={"channels_file": channels(tmp_path, receiver.url, events)}
    )
    runtime = build_runtime(configured, clock=clock)
    runtime.prepare_database()
    with runtime.transaction() as session:
        _, secret = auth.create_token(
            session=session, name=f"admin-{tmp_path.name}", role="admin", now=runtime.clock.now()
        )
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(runtime, run_worker=False)) as client:
        paths = {}
        for kind in ("alertmanager", "generic"):
            name = f"{kind}-{tmp_path.name}"
            made = client.post(
                "/api/v1/integrations", headers=headers, json={"name": name, "kind": kind}
            )
            assert made.status_code == 201, made.text
            paths[kind] = "/" + made.json()["url"].split("/", 3)[3]
        yield Noticed(runtime, client, headers, receiver, paths["alertmanager"], paths["generic"])
    runtime.engine.dispose()


@pytest.fixture
def noticed(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> Iterator[Noticed]:
    with start(settings, clock, receiver, tmp_path, ["alert.firing", "incident.triggered"]) as app:
        yield app


def test_a_new_group_is_noticed_signed_before_its_alert_is_ingested(
    noticed: Noticed, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = threading.Event()
    real = ingester.Ingester.ingest_next

    def held_up(self: ingester.Ingester) -> bool:
        held.wait(30)  # ingesting waits until the notice has arrived
        return real(self)

    monkeypatch.setattr(ingester.Ingester, "ingest_next", held_up)
    noticed.fire(alert("CheckoutDown"))
    wait_for(lambda: bool(noticed.notices()))
    incidents = noticed.client.get(INCIDENTS, headers=noticed.headers).json()
    held.set()
    assert incidents["total"] == 0
    [(headers, body)] = [r for r in noticed.receiver.requests if b"alert.firing" in r[1]]
    event = Webhook(SECRET).verify(body, headers)
    assert event["type"] == "alert.firing"
    group = event["data"]["group"]
    assert (group["route"], group["severity"], group["type"]) == ("default", "P1", "operational")
    assert group["key"].endswith("default:alertname=CheckoutDown,service=checkout")
    assert event["data"]["integration"]["kind"] == "alertmanager"
    [sent] = event["data"]["alerts"]
    assert sent["labels"]["alertname"] == "CheckoutDown"
    assert (sent["status"], sent["summary"]) == ("firing", "CheckoutDown on checkout")
    assert sent["starts_at"] == "2026-12-07T10:00:00+00:00"
    # the incident follows, from the ingest
    noticed.settle()
    drain(noticed.runtime)
    assert [e["type"] for e in noticed.receiver.events()] == ["alert.firing", "incident.triggered"]


def test_one_notice_per_group_while_it_fires_none_for_info_or_silenced(noticed: Noticed) -> None:
    noticed.fire(alert("CheckoutDown", instance="a"), alert("CheckoutDown", instance="b"))
    # made through the API after the silences were read: it counts at once
    silence = {"matchers": ["team=quiet"], "duration": "1h", "comment": "maintenance"}
    made = noticed.client.post("/api/v1/silences", headers=noticed.headers, json=silence)
    assert made.status_code == 201, made.text
    noticed.fire(alert("CheckoutDown", instance="c"))  # the same group, another request
    noticed.fire(alert("DiskFull", severity="info"))  # info: recorded, no incident
    noticed.fire(alert("Noisy", team="quiet"))  # silenced
    noticed.fire(alert("PaymentsDown"))
    generic = {"summary": "Errors on checkout", "labels": {"alertname": "Errors"}}
    response = noticed.client.post(noticed.generic, json=generic)  # the generic hook too
    assert response.status_code == 202, response.text
    noticed.settle()
    wait_for(lambda: len(noticed.deliveries()) >= 3)
    seen = [(n["data"]["group"]["key"], len(n["data"]["alerts"])) for n in noticed.notices()]
    names = sorted(key.split("alertname=")[1].split(",")[0] for key, _ in seen)
    assert names == ["CheckoutDown", "Errors", "PaymentsDown"]
    assert dict(seen)[next(k for k, _ in seen if "CheckoutDown" in k)] == 2  # its request's two
    sent = [d for d in noticed.deliveries() if d.subject == "alert.firing"]
    assert [(d.status, d.attempts, d.channel) for d in sent] == [("sent", 1, "ops-events")] * 3


def test_a_group_whose_alerts_all_resolved_is_noticed_again(
    noticed: Noticed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notices, "RESYNC_SECONDS", 0.0)
    noticed.fire(alert("CheckoutDown"))
    noticed.settle()
    noticed.fire(alert("CheckoutDown"))  # a repeat: still firing
    noticed.settle()
    noticed.fire(alert("CheckoutDown", status="resolved"))
    noticed.settle()  # the incident is mitigated; the firing groups are read again
    noticed.fire(alert("CheckoutDown", status="resolved"))  # one more pass after the resolve
    noticed.settle()
    noticed.fire(alert("CheckoutDown"))
    noticed.settle()
    wait_for(lambda: len(noticed.notices()) == 2)
    incidents = noticed.client.get(INCIDENTS, headers=noticed.headers).json()
    assert incidents["total"] == 1  # the same incident, retriggered


def test_a_group_firing_before_a_restart_is_not_noticed_again(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> None:
    events = ["alert.firing"]
    with start(settings, clock, receiver, tmp_path, events) as first:
        first.fire(alert("CheckoutDown"))
        first.settle()
        wait_for(lambda: len(first.notices()) == 1)
    (tmp_path / "again").mkdir()
    with start(settings, clock, receiver, tmp_path / "again", events) as second:  # a restart
        second.fire(alert("CheckoutDown", pod="2"), path=first.alertmanager)  # its group fires
        second.fire(alert("NewTrouble"), path=first.alertmanager)
        second.settle()
        wait_for(lambda: len(second.notices()) == 2)
        time.sleep(0.2)  # room for a wrong third
    names = [n["data"]["alerts"][0]["labels"]["alertname"] for n in second.notices()]
    assert names == ["CheckoutDown", "NewTrouble"]


def test_a_failed_notice_is_queued_in_the_outbox_and_retried(
    noticed: Noticed, clock: FakeClock
) -> None:
    noticed.receiver.script = [503]
    noticed.fire(alert("CheckoutDown"))
    wait_for(lambda: any(d.subject == "alert.firing" for d in noticed.deliveries()))
    [failed] = [d for d in noticed.deliveries() if d.subject == "alert.firing"]
    assert (failed.status, failed.attempts) == ("queued", 1)
    assert "HTTP 503" in (failed.last_error or "")
    clock.advance(timedelta(minutes=1))
    drain(noticed.runtime)
    [retried] = [d for d in noticed.deliveries() if d.subject == "alert.firing"]
    assert (retried.status, retried.attempts) == ("sent", 2)
    tries = [(h, json.loads(b)) for h, b in noticed.receiver.requests if b"alert.firing" in b]
    assert len(tries) == 2
    assert tries[0][1] == tries[1][1]  # the same event, its id too
    assert tries[0][0]["webhook-id"] == tries[1][0]["webhook-id"]  # receivers drop repeats
    for headers, body in noticed.receiver.requests:
        Webhook(SECRET).verify(body, headers)


def test_under_a_flood_big_requests_are_told_by_the_ingest_and_wait_until_it_is_over(
    noticed: Noticed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accepting goes first: the event loop decides no notice for a request of more than
    FLOOD_ALERTS alerts, the ingest tells of its new groups, and their notices wait for
    the flood's end, in order. A lone alert is still noticed at once."""
    monkeypatch.setattr(notices, "DEFER_AT_MOST_SECONDS", 60.0)  # however slow this machine
    # one at a time, so that they arrive in the order they are sent: two sent at once, each
    # on a connection of its own, may arrive either way round
    monkeypatch.setattr(notices, "MAX_SENDING", 1)
    notices_of_app = noticed.client.app.state.intake.notices  # type: ignore[attr-defined]
    flooded = threading.Event()
    flooded.set()
    notices_of_app.flooded = flooded.is_set
    many = notices.FLOOD_ALERTS + 1
    noticed.fire(*(alert("CheckoutDown", instance=f"c{n}") for n in range(many)))
    noticed.fire(*(alert("CartDown", instance=f"k{n}") for n in range(many)))
    noticed.fire(alert("PaymentsDown"))  # alone: at once
    noticed.fire(alert("DiskFull", severity="info"))  # opens no incident: no notice
    wait_for(lambda: len(noticed.notices()) == 1)
    noticed.settle()  # ingested: the groups are known, the big ones' notices held
    time.sleep(0.2)
    seen = noticed.notices()
    assert [n["data"]["alerts"][0]["labels"]["alertname"] for n in seen] == ["PaymentsDown"]
    flooded.clear()
    wait_for(lambda: len(noticed.notices()) == 3)
    time.sleep(0.1)
    seen = noticed.notices()
    assert len(seen) == 3
    names = [n["data"]["alerts"][0]["labels"]["alertname"] for n in seen]
    assert names == ["PaymentsDown", "CheckoutDown", "CartDown"]  # the held ones in order
    assert len(seen[1]["data"]["alerts"]) == many
    assert seen[1]["data"]["group"]["severity"] == "P1"
    assert seen[1]["data"]["alerts"][0]["summary"] == "CheckoutDown on checkout"
    noticed.fire(alert("CheckoutDown", instance="c-late"))  # known now: no second notice
    noticed.settle()
    time.sleep(0.1)
    assert len(noticed.notices()) == 3


@pytest.fixture
def starting(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> Callable[[list[str]], AbstractContextManager[Noticed]]:
    """Starts the app with a channel taking these events, once the test has set it up."""
    return lambda events: start(settings, clock, receiver, tmp_path, events)


def test_under_a_flood_only_the_first_few_lone_alerts_are_noticed_at_once(
    starting: Callable[[list[str]], AbstractContextManager[Noticed]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a flood a lone alert's new group is noticed at once, FLOOD_AT_ONCE of them and
    then FLOOD_AT_ONCE_PER_SECOND: the rest are told by the ingest and wait for the flood's
    end, in order, as big requests do (a storm of lone alerts opening groups would otherwise
    cost accepting a notice each)."""
    monkeypatch.setattr(notices, "FLOOD_AT_ONCE", 2)
    monkeypatch.setattr(notices, "FLOOD_AT_ONCE_PER_SECOND", 0.0001)  # none more in the test
    monkeypatch.setattr(notices, "DEFER_AT_MOST_SECONDS", 60.0)
    monkeypatch.setattr(notices, "MAX_SENDING", 1)  # they arrive in the order they are sent
    with starting(["alert.firing"]) as noticed:
        notices_of_app = noticed.client.app.state.intake.notices  # type: ignore[attr-defined]
        flooded = threading.Event()
        flooded.set()
        notices_of_app.flooded = flooded.is_set
        names = ["CheckoutDown", "CartDown", "PaymentsDown", "SearchDown"]
        for name in names:
            noticed.fire(alert(name))
        wait_for(lambda: len(noticed.notices()) == 2)
        noticed.settle()  # ingested: the last two groups are known, their notices held
        time.sleep(0.2)
        assert _alertnames(noticed.notices()) == names[:2]
        flooded.clear()
        wait_for(lambda: len(noticed.notices()) == 4)
        time.sleep(0.1)
        assert _alertnames(noticed.notices()) == names


def _alertnames(seen: list[dict[str, Any]]) -> list[str]:
    return [n["data"]["alerts"][0]["labels"]["alertname"] for n in seen]


def test_notices_left_unsent_at_shutdown_go_to_the_outbox_with_their_keys(
    settings: Settings,
    clock: FakeClock,
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notices, "CLOSE_SECONDS", 0.2)
    monkeypatch.setattr(notices, "MAX_SENDING", 1)
    receiver.release = threading.Event()  # the receiver holds its answers
    with start(settings, clock, receiver, tmp_path, ["alert.firing"]) as app:
        app.fire(alert("CheckoutDown"))
        app.fire(alert("PaymentsDown"))  # waits in line behind the first
        wait_for(lambda: len(receiver.requests) == 1)
    # the app stopped: the first try was under way, the second never made
    left = [d for d in app.deliveries() if d.subject == "alert.firing"]  # (engine disposed below)
    assert [(d.status, d.attempts) for d in left] == [("queued", 0), ("queued", 0)]
    receiver.release.set()
    try:
        drain(app.runtime)
        sent = [d for d in app.deliveries() if d.subject == "alert.firing"]
    finally:  # the app's engine was disposed when it stopped: these opened it again
        app.runtime.engine.dispose()
    assert [(d.status, d.attempts) for d in sent] == [("sent", 1), ("sent", 1)]
    ids = [h["webhook-id"] for h, b in receiver.requests]
    assert ids[0] == ids[1]  # the try cut short, then the outbox's: one key
    assert len(set(ids)) == 2


def test_webhooks_take_alert_firing_only_when_they_list_it(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> None:
    with start(settings, clock, receiver, tmp_path, ["incident.triggered"]) as app:
        app.fire(alert("CheckoutDown"))
        app.settle()
        time.sleep(0.1)
        assert app.notices() == []
    default = tmp_path / "default.yaml"
    hook = {"name": "a", "url": "http://x.example", "secret": SECRET}
    default.write_text(json.dumps({"webhooks": [hook]}))
    assert "alert.firing" not in load_channels(default).webhooks[0].events
    slack = tmp_path / "slack.yaml"
    slack.write_text(
        json.dumps(
            {
                "slack": [
                    {
                        "name": "s",
                        "bot_token": "xoxb-1",
                        "incidents_channel": "#inc",
                        "events": ["alert.firing"],
                    }
                ]
            }
        )
    )
    with pytest.raises(ChannelsError, match="events"):
        load_channels(slack)
