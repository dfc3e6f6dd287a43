"""What alerts become on both backends: dedup, routing and severity, grouping into
incidents, resolution (mitigated, auto-resolve), re-firing and the flap window, silences,
and the alert list's filters. Time moves only by the FakeClock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.test_alerts_hooks import (
    alert_page,
    alerts,
    am_alert,
    assert_error,
    create_integration,
    incident,
    incidents,
    kinds,
    post_am,
    stored,
    timeline,
    ts,
)
from warroom.auth import service as auth
from warroom.clock import FakeClock
from warroom.playbook.loader import default_playbook_text
from warroom.runtime import build_runtime
from warroom.settings import Settings
from warroom.web.app import create_app

SILENCES = "/api/v1/silences"
DB_DOWN = {"alertname": "DatabaseDown", "service": "db", "instance": "db-1", "severity": "critical"}


@pytest.fixture
def key(api: Api) -> str:
    """The key of an Alertmanager integration."""
    value: str = create_integration(api, "prometheus", "alertmanager")["key"]
    return value


def act(api: Api, incident_id: int, action: str) -> dict[str, Any]:
    headers = api.commander if action in ("close", "reopen") else api.responder
    response = api.client.post(f"/api/v1/incidents/{incident_id}/{action}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def fire(api: Api, key: str, labels: dict[str, str], **fields: Any) -> dict[str, Any]:
    return post_am(api, key, am_alert(labels, **fields))


def resolve(api: Api, key: str, labels: dict[str, str], **fields: Any) -> dict[str, Any]:
    return post_am(api, key, am_alert(labels, status="resolved", **fields))


def only_incident(answer: dict[str, Any]) -> int:
    [incident_id] = answer["incidents"]
    assert isinstance(incident_id, int)
    return incident_id


# --- dedup ----------------------------------------------------------------------------------


def test_the_same_alert_twice_is_one_alert_counted_twice(
    api: Api, key: str, clock: FakeClock
) -> None:
    first = fire(api, key, DB_DOWN)
    assert (first["created"], first["deduplicated"]) == (1, 0)
    clock.advance(timedelta(minutes=5))
    second = fire(api, key, DB_DOWN, annotations={"summary": "Primary database still down"})
    assert (second["created"], second["deduplicated"]) == (0, 1)
    [row] = alerts(api)
    assert row["count"] == 2
    assert ts(row["last_seen_at"]) == ts(row["first_seen_at"]) + timedelta(minutes=5)
    assert row["annotations"] == {"summary": "Primary database still down"}
    [opened] = incidents(api)
    assert row["incident_id"] == opened["id"]
    assert kinds(api, opened["id"]).count("alert_attached") == 1


def test_repeats_without_new_annotations_keep_them_and_count_on(
    api: Api, key: str, clock: FakeClock
) -> None:
    """A repeat that brings no annotations, or the same ones, moves only the count and the
    last seen time; annotations it brings that differ replace them."""
    noted = {"summary": "Primary database down"}
    fire(api, key, DB_DOWN, annotations=noted)
    clock.advance(timedelta(minutes=1))
    assert fire(api, key, DB_DOWN)["deduplicated"] == 1  # none
    clock.advance(timedelta(minutes=1))
    assert fire(api, key, DB_DOWN, annotations=noted)["deduplicated"] == 1  # the same
    [row] = alerts(api)
    assert (row["count"], row["annotations"], row["status"]) == (3, noted, "firing")
    assert ts(row["last_seen_at"]) == ts(row["first_seen_at"]) + timedelta(minutes=2)
    clock.advance(timedelta(minutes=1))
    fire(api, key, DB_DOWN, annotations={"summary": "Still down"})
    [row] = alerts(api)
    assert (row["count"], row["annotations"]) == (4, {"summary": "Still down"})
    assert ts(row["last_seen_at"]) == ts(row["first_seen_at"]) + timedelta(minutes=3)


def test_after_resolving_the_same_fingerprint_is_a_new_alert_and_retriggers(
    api: Api, key: str, clock: FakeClock
) -> None:
    incident_id = only_incident(fire(api, key, DB_DOWN, fingerprint="fp-1"))
    resolve(api, key, DB_DOWN, fingerprint="fp-1")
    assert incident(api, incident_id)["status"] == "mitigated"
    clock.advance(timedelta(minutes=3))
    answer = fire(api, key, DB_DOWN, fingerprint="fp-1")
    assert (answer["created"], answer["deduplicated"]) == (1, 0)
    old, new = alerts(api)
    assert (old["fingerprint"], new["fingerprint"]) == ("fp-1", "fp-1")
    assert (old["status"], new["status"]) == ("resolved", "firing")
    assert (old["count"], new["count"]) == (1, 1)
    assert new["incident_id"] == incident_id  # mitigated: the same incident comes back
    assert incident(api, incident_id)["status"] == "triggered"
    entries = timeline(api, incident_id)
    retriggered = [e for e in entries if e["kind"] == "retriggered"]
    assert len(retriggered) == 1
    assert retriggered[0]["data"]["from"] == "mitigated"
    assert retriggered[0]["data"]["to"] == "triggered"
    assert entries[-1]["kind"] == "alert_attached"
    assert len(incidents(api)) == 1


# --- resolution -----------------------------------------------------------------------------


def test_an_incident_is_mitigated_only_when_all_its_alerts_resolve(api: Api, key: str) -> None:
    db1 = {**DB_DOWN, "instance": "db-1"}
    db2 = {**DB_DOWN, "instance": "db-2"}
    incident_id = only_incident(post_am(api, key, am_alert(db1), am_alert(db2)))
    act(api, incident_id, "acknowledge")

    resolve(api, key, db1)
    assert incident(api, incident_id)["status"] == "acknowledged"
    assert "mitigated" not in kinds(api, incident_id)

    resolve(api, key, db2)
    current = incident(api, incident_id)
    assert current["status"] == "mitigated"
    assert current["mitigated_at"] is not None
    entries = timeline(api, incident_id)
    assert [e["kind"] for e in entries].count("alert_resolved") == 2
    assert entries[-1]["kind"] == "mitigated"
    assert entries[-1]["actor"] == "integration:prometheus"

    # One alert of the group firing again moves the incident back to triggered.
    fire(api, key, db2)
    assert incident(api, incident_id)["status"] == "triggered"
    assert kinds(api, incident_id)[-2:] == ["retriggered", "alert_attached"]
    assert len(incidents(api)) == 1


def test_resolving_does_not_touch_an_incident_a_person_resolved(api: Api, key: str) -> None:
    incident_id = only_incident(fire(api, key, DB_DOWN))
    act(api, incident_id, "resolve")
    resolve(api, key, DB_DOWN)
    assert incident(api, incident_id)["status"] == "resolved"
    assert "mitigated" not in kinds(api, incident_id)


@pytest.mark.parametrize("minutes", [1, 29, 30])
def test_firing_within_the_flap_window_reopens_the_resolved_incident(
    api: Api, key: str, clock: FakeClock, minutes: int
) -> None:
    incident_id = only_incident(fire(api, key, DB_DOWN))
    resolve(api, key, DB_DOWN)
    act(api, incident_id, "resolve")
    clock.advance(timedelta(minutes=minutes))
    answer = fire(api, key, DB_DOWN)
    assert answer["incidents"] == [incident_id]
    assert incident(api, incident_id)["status"] == "triggered"
    assert kinds(api, incident_id)[-2:] == ["reopened", "alert_attached"]
    assert len(incidents(api)) == 1
    assert len(alerts(api)) == 2


@pytest.mark.parametrize("minutes", [31, 24 * 60])
def test_firing_after_the_flap_window_opens_a_new_incident(
    api: Api, key: str, clock: FakeClock, minutes: int
) -> None:
    old = only_incident(fire(api, key, DB_DOWN))
    resolve(api, key, DB_DOWN)
    act(api, old, "resolve")
    clock.advance(timedelta(minutes=minutes))
    new = only_incident(fire(api, key, DB_DOWN))
    assert new != old
    assert incident(api, old)["status"] == "resolved"
    assert "reopened" not in kinds(api, old)
    assert incident(api, new)["status"] == "triggered"
    assert [i["id"] for i in incidents(api)] == [old, new]


# --- routing and severity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "severity"),
    [
        ("P0", "P0"),
        ("P1", "P1"),
        ("P2", "P2"),
        ("P3", "P3"),
        ("critical", "P1"),
        ("error", "P2"),
        ("warning", "P3"),
        (None, "P3"),
        ("unheard-of", "P3"),
    ],
)
def test_severity_from_labels(api: Api, key: str, label: str | None, severity: str) -> None:
    labels = {"alertname": "Probe", "service": "web"}
    if label is not None:
        labels["severity"] = label
    incident_id = only_incident(fire(api, key, labels))
    [row] = alerts(api)
    assert row["severity"] == severity
    assert row["severity_hint"] == label
    assert row["route"] == "default"
    opened = incident(api, incident_id)
    assert (opened["severity"], opened["type"]) == (severity, "operational")


def test_an_info_alert_is_stored_without_an_incident(api: Api, key: str) -> None:
    answer = fire(api, key, {"alertname": "Watchdog", "service": "meta", "severity": "info"})
    assert (answer["created"], answer["incidents"]) == (1, [])
    [row] = alerts(api)
    assert (row["status"], row["severity"], row["incident_id"]) == ("firing", None, None)
    assert stored(api) == (1, 0)
    resolve(api, key, {"alertname": "Watchdog", "service": "meta", "severity": "info"})
    assert alerts(api)[0]["status"] == "resolved"
    assert stored(api) == (1, 0)


def test_the_security_route_opens_a_p0_security_incident(api: Api, key: str) -> None:
    labels = {"alertname": "SuspiciousLogin", "service": "auth", "type": "security"}
    incident_id = only_incident(fire(api, key, {**labels, "severity": "warning"}))
    [row] = alerts(api)
    assert (row["route"], row["severity"]) == ("security", "P0")
    opened = incident(api, incident_id)
    assert (opened["type"], opened["severity"]) == ("security", "P0")


def test_an_explicit_severity_label_beats_the_route(api: Api, key: str) -> None:
    labels = {"alertname": "PortScan", "service": "edge", "type": "security", "severity": "P2"}
    incident_id = only_incident(fire(api, key, labels))
    opened = incident(api, incident_id)
    assert (opened["type"], opened["severity"]) == ("security", "P2")


def test_alerts_differing_only_in_instance_share_an_incident(api: Api, key: str) -> None:
    first = only_incident(fire(api, key, {**DB_DOWN, "instance": "db-1"}))
    second = only_incident(fire(api, key, {**DB_DOWN, "instance": "db-2"}))
    assert first == second
    assert len(alerts(api)) == 2
    assert len(incidents(api)) == 1
    assert kinds(api, first).count("alert_attached") == 2


@pytest.mark.parametrize("label", ["alertname", "service"])
def test_alerts_differing_in_a_group_by_label_do_not(api: Api, key: str, label: str) -> None:
    first = only_incident(fire(api, key, DB_DOWN))
    second = only_incident(fire(api, key, {**DB_DOWN, label: "other"}))
    assert first != second
    assert len(incidents(api)) == 2


# --- silences -------------------------------------------------------------------------------


def silence(api: Api, **body: Any) -> dict[str, Any]:
    response = api.client.post(SILENCES, headers=api.responder, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def silences(api: Api, include_expired: bool = False) -> list[dict[str, Any]]:
    params = {"include_expired": "true"} if include_expired else {}
    response = api.client.get(SILENCES, headers=api.viewer, params=params)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def test_a_silenced_alert_is_stored_but_opens_no_incident(
    api: Api, key: str, clock: FakeClock
) -> None:
    made = silence(
        api, matchers=["service=db", "env=~prod.*"], duration="2h", comment="failover drill"
    )
    assert made["matchers"] == ["service=db", "env=~prod.*"]
    assert ts(made["starts_at"]) == clock.now()
    assert ts(made["ends_at"]) == clock.now() + timedelta(hours=2)
    assert made["comment"] == "failover drill"
    assert made["created_by"]
    assert [s["id"] for s in silences(api)] == [made["id"]]

    answer = fire(api, key, {**DB_DOWN, "env": "prod-eu"})
    assert (answer["created"], answer["silenced"], answer["incidents"]) == (1, 1, [])
    [row] = alerts(api)
    assert row["silenced_by"] == made["id"]
    assert row["incident_id"] is None
    assert row["severity"] == "P1"  # still routed, just not paged
    assert stored(api) == (1, 0)

    # Not every matcher matches: not silenced.
    answer = fire(api, key, {**DB_DOWN, "env": "staging"})
    assert answer["silenced"] == 0
    assert len(answer["incidents"]) == 1
    assert [a["silenced_by"] for a in alert_page(api, silenced="true")["items"]] == [made["id"]]
    assert alert_page(api, silenced="false")["total"] == 1


def test_an_expired_silence_no_longer_applies(api: Api, key: str, clock: FakeClock) -> None:
    silence(api, matchers=["service=db"], duration="1h")
    clock.advance(timedelta(hours=1))
    assert silences(api) == []
    assert len(silences(api, include_expired=True)) == 1
    answer = fire(api, key, DB_DOWN)
    assert answer["silenced"] == 0
    assert len(answer["incidents"]) == 1
    assert alerts(api)[0]["silenced_by"] is None


def test_an_alert_still_firing_when_its_silence_ends_pages(
    api: Api, key: str, clock: FakeClock
) -> None:
    """A silence records without paging *for a while*: Alertmanager keeps re-sending a
    firing alert, and once the maintenance window is over it must open an incident."""
    silence(api, matchers=["service=db"], duration="1h")
    fire(api, key, DB_DOWN)
    assert stored(api) == (1, 0)
    clock.advance(timedelta(hours=2))
    answer = fire(api, key, DB_DOWN)  # Alertmanager's repeat notification
    assert len(answer["incidents"]) == 1, answer
    assert stored(api)[1] == 1


def test_expiring_a_silence_ends_it_now(api: Api, key: str, clock: FakeClock) -> None:
    made = silence(api, matchers=["service=db"], duration="2h")
    clock.advance(timedelta(minutes=10))
    response = api.client.delete(f"{SILENCES}/{made['id']}", headers=api.responder)
    assert response.status_code == 200, response.text
    assert ts(response.json()["ends_at"]) == clock.now()
    assert silences(api) == []
    answer = fire(api, key, DB_DOWN)
    assert (answer["silenced"], len(answer["incidents"])) == (0, 1)
    response = api.client.delete(f"{SILENCES}/999", headers=api.responder)
    assert_error(response, 404, "not_found")


def test_a_future_silence_applies_once_it_starts(api: Api, key: str, clock: FakeClock) -> None:
    start = clock.now() + timedelta(hours=1)
    made = silence(
        api,
        matchers=["service=db"],
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=1)).isoformat(),
    )
    assert [s["id"] for s in silences(api)] == [made["id"]]
    assert fire(api, key, {**DB_DOWN, "instance": "db-1"})["silenced"] == 0
    clock.advance(timedelta(hours=1, minutes=1))
    assert fire(api, key, {**DB_DOWN, "instance": "db-2"})["silenced"] == 1


@pytest.mark.parametrize(
    ("matchers", "field"),
    [
        (["service=db", "not a matcher"], "matchers[1]"),
        (["env=~(prod"], "matchers[0]"),
        (["service=db", "team=x", "=nameless"], "matchers[2]"),
        ([], "matchers"),
    ],
)
def test_a_bad_matcher_is_422_naming_it(api: Api, matchers: list[str], field: str) -> None:
    response = api.client.post(
        SILENCES, headers=api.responder, json={"matchers": matchers, "duration": "1h"}
    )
    assert_error(response, 422, "invalid_input", field)
    assert silences(api, include_expired=True) == []


@pytest.mark.parametrize("ends_offset", [timedelta(hours=-1), timedelta(0)])
def test_a_silence_ending_before_it_starts_is_422(
    api: Api, clock: FakeClock, ends_offset: timedelta
) -> None:
    start = clock.now() + timedelta(hours=1)
    body = {
        "matchers": ["service=db"],
        "starts_at": start.isoformat(),
        "ends_at": (start + ends_offset).isoformat(),
    }
    response = api.client.post(SILENCES, headers=api.responder, json=body)
    assert_error(response, 422, "invalid_input", "ends_at")
    assert silences(api, include_expired=True) == []


@pytest.mark.parametrize("duration", ["0", "0m", 0], ids=["text-0", "text-0m", "number-0"])
def test_a_zero_duration_silence_is_422(api: Api, duration: str | int) -> None:
    """A silence of no time is a mistake to point out, not one hour of silence."""
    response = api.client.post(
        SILENCES, headers=api.responder, json={"matchers": ["service=db"], "duration": duration}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] in ("duration", "ends_at")
    assert silences(api, include_expired=True) == []


def test_silences_need_a_responder(api: Api) -> None:
    body = {"matchers": ["service=db"], "duration": "1h"}
    assert api.client.post(SILENCES, json=body).status_code == 401
    assert api.client.post(SILENCES, headers=api.viewer, json=body).status_code == 403
    assert silences(api, include_expired=True) == []


# --- the alert list -------------------------------------------------------------------------


def test_the_alert_list_filters(api: Api, key: str) -> None:
    other = create_integration(api, "grafana", "grafana")["key"]
    db = only_incident(fire(api, key, {**DB_DOWN, "instance": "db-1"}))
    fire(api, key, {**DB_DOWN, "instance": "db-2"})
    resolve(api, key, {**DB_DOWN, "instance": "db-2"})
    response = api.client.post(
        f"/hooks/grafana/{other}",
        json={"alerts": [am_alert({"alertname": "Latency", "service": "web"})]},
    )
    assert response.status_code == 202, response.text

    assert alert_page(api)["total"] == 3
    assert alert_page(api, status="firing")["total"] == 2
    assert alert_page(api, status="resolved")["items"][0]["labels"]["instance"] == "db-2"
    assert alert_page(api, integration="grafana")["items"][0]["source"] == "grafana"
    assert alert_page(api, integration="prometheus")["total"] == 2
    assert alert_page(api, incident_id=db)["total"] == 2
    assert alert_page(api, q="latency")["total"] == 1
    page = alert_page(api, limit=1, offset=1)
    assert (page["total"], len(page["items"]), page["limit"], page["offset"]) == (3, 1, 1, 1)
    ids = [a["id"] for a in alert_page(api)["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert_error(
        api.client.get("/api/v1/alerts", headers=api.viewer, params={"status": "open"}),
        422,
        "invalid_input",
        "status",
    )
    assert_error(
        api.client.get("/api/v1/alerts", headers=api.viewer, params={"integration": "nope"}),
        404,
        "not_found",
    )
    assert api.client.get("/api/v1/alerts").status_code == 401


# --- a playbook of one's own: auto-resolve, route grouping, flap window -----------------------


@pytest.fixture
def custom(database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Api]:
    """An app on a playbook whose routing differs from the default."""
    data = yaml.safe_load(default_playbook_text())
    data["alert_routing"] = {
        "group_by": ["alertname", "service"],
        "severity_labels": {"critical": "P1", "error": "P2", "warning": "P3", "info": None},
        "default_severity": "P3",
        "default_type": "operational",
        "auto_resolve": False,
        "flap_window": "10m",
        "routes": [
            {
                "name": "batch",
                "matchers": ["team=batch"],
                "group_by": ["team"],
                "severity": "P2",
                "auto_resolve": True,
            },
            {"name": "security", "matchers": ["type=security"], "type": "security"},
        ],
    }
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    settings = Settings(
        database_url=database_url, data_dir=tmp_path / "data", worker=False, playbook=path
    )
    runtime = build_runtime(settings, clock=clock)
    headers = {}
    with runtime.transaction() as session:
        for role in auth.ROLES:
            _, secret = auth.create_token(
                session=session, name=f"{role}-token", role=role, now=clock.now()
            )
            headers[role] = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(runtime, run_worker=False)) as client:
        yield Api(client=client, **headers)
    runtime.engine.dispose()


def test_a_route_with_auto_resolve_resolves_the_incident(custom: Api) -> None:
    key = create_integration(custom, "prometheus", "alertmanager")["key"]
    nightly = {"alertname": "NightlyExportFailed", "team": "batch", "service": "export"}
    incident_id = only_incident(fire(custom, key, nightly))
    resolve(custom, key, nightly)
    current = incident(custom, incident_id)
    assert current["status"] == "resolved"
    assert current["resolved_at"] is not None
    entries = kinds(custom, incident_id)
    assert "mitigated" not in entries
    assert entries.index("resolved") == entries.index("alert_resolved") + 1

    # The default route of the same playbook still only mitigates.
    other = only_incident(fire(custom, key, DB_DOWN))
    resolve(custom, key, DB_DOWN)
    assert incident(custom, other)["status"] == "mitigated"


def test_a_route_groups_by_its_own_labels_at_its_own_severity(custom: Api) -> None:
    key = create_integration(custom, "prometheus", "alertmanager")["key"]
    first = only_incident(fire(custom, key, {"alertname": "ExportFailed", "team": "batch"}))
    second = only_incident(
        fire(custom, key, {"alertname": "ReportLate", "team": "batch", "severity": "critical"})
    )
    assert first == second  # the route groups by team only
    assert [a["severity"] for a in alerts(custom)] == ["P2", "P2"]  # the route's severity
    assert [a["route"] for a in alerts(custom)] == ["batch", "batch"]
    third = only_incident(
        fire(custom, key, {"alertname": "ExportSlow", "team": "batch", "severity": "P1"})
    )
    assert third == first
    assert alerts(custom)[-1]["severity"] == "P1"  # an explicit label still wins


def test_a_route_without_severity_falls_back_to_the_labels(custom: Api) -> None:
    key = create_integration(custom, "prometheus", "alertmanager")["key"]
    incident_id = only_incident(
        fire(custom, key, {"alertname": "Breach", "type": "security", "severity": "error"})
    )
    opened = incident(custom, incident_id)
    assert (opened["type"], opened["severity"]) == ("security", "P2")


@pytest.mark.parametrize(("minutes", "reopens"), [(9, True), (11, False)])
def test_the_playbooks_flap_window_is_used(
    custom: Api, clock: FakeClock, minutes: int, reopens: bool
) -> None:
    key = create_integration(custom, "prometheus", "alertmanager")["key"]
    nightly = {"alertname": "NightlyExportFailed", "team": "batch"}
    first = only_incident(fire(custom, key, nightly))
    resolve(custom, key, nightly)  # auto-resolved
    clock.advance(timedelta(minutes=minutes))
    again = only_incident(fire(custom, key, nightly))
    assert (again == first) is reopens
    assert incident(custom, again)["status"] == "triggered"
    assert ("reopened" in kinds(custom, first)) is reopens


def test_one_batch_that_mitigates_then_fires_again_leaves_the_incident_triggered(
    api: Api,
) -> None:
    """Within one request: an alert fires and resolves (every alert of the incident
    resolved: mitigated), then another alert of the same group fires."""
    key = create_integration(api, "cron", "generic")["key"]
    labels = {"alertname": "BackupFailed", "service": "backup"}
    body = {
        "alerts": [
            {"summary": "Backup failed", "dedup_key": "backup-1", "labels": labels},
            {
                "summary": "Backup failed",
                "dedup_key": "backup-1",
                "labels": labels,
                "status": "resolved",
            },
            {"summary": "Backup failed again", "dedup_key": "backup-2", "labels": labels},
        ]
    }
    response = api.client.post(f"/hooks/generic/{key}", json=body)
    assert response.status_code == 202, response.text
    first, second = alerts(api)
    assert (first["status"], second["status"]) == ("resolved", "firing")
    assert first["incident_id"] == second["incident_id"]
    current = incident(api, second["incident_id"])
    assert current["status"] == "triggered", kinds(api, current["id"])
    assert kinds(api, current["id"])[-2:] == ["retriggered", "alert_attached"]
