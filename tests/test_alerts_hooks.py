"""Alert ingestion over HTTP on both backends: every payload kind from real captured or
documented examples, customer reports, every bad input (which stores nothing) and
concurrent deliveries of one alert.

The Alertmanager and PagerDuty Events v2 requests in tests/fixtures/alertmanager/ were
captured from Alertmanager 0.25; the Grafana ones follow Grafana's webhook contact point
documentation (receiver, orgId, values, valueString, title, state, message, ...).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from warroom.alerts.hooks import MAX_BODY

FIXTURES = Path(__file__).parent / "fixtures"
ALERTS = "/api/v1/alerts"
INCIDENTS = "/api/v1/incidents"
INTEGRATIONS = "/api/v1/integrations"
REPORTS = "/api/v1/reports"
ENQUEUE = "/v2/enqueue"
TOKEN = "s3cret-bearer-token-0123456789"
PD_INVALID = {"status": "invalid event", "message": "Event object is invalid"}


# --- helpers (imported by the other alert test modules) ------------------------------------


def capture(name: str) -> dict[str, Any]:
    """A captured request: ``path`` (with ``{key}``), ``headers`` and ``body``."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def create_integration(
    api: Api, name: str, kind: str, auth_token: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "kind": kind}
    if auth_token is not None:
        body["auth_token"] = auth_token
    response = api.client.post(INTEGRATIONS, headers=api.admin, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def hook_path(integration: dict[str, Any]) -> str:
    """Where the integration's source posts, from the URL warroom gave out."""
    return urlsplit(integration["url"]).path


def post_capture(
    api: Api, name: str, key: str, headers: dict[str, str] | None = None, **replace: Any
) -> Any:
    """Replay a captured request against the integration with this key."""
    request = capture(name)
    body = request["body"]
    if "routing_key" in body:
        body["routing_key"] = key
    body.update(replace)
    return api.client.post(
        request["path"].format(key=key),
        content=json.dumps(body).encode(),
        headers={**request["headers"], **(headers or {})},
    )


def alert_page(api: Api, **params: Any) -> dict[str, Any]:
    api.settle()
    response = api.client.get(ALERTS, headers=api.viewer, params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def alerts(api: Api, **params: Any) -> list[dict[str, Any]]:
    """Alerts, oldest first."""
    items: list[dict[str, Any]] = alert_page(api, limit=500, **params)["items"]
    return sorted(items, key=lambda a: a["id"])


def incidents(api: Api, **params: Any) -> list[dict[str, Any]]:
    """Incidents, oldest first."""
    api.settle()
    response = api.client.get(INCIDENTS, headers=api.viewer, params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return sorted(items, key=lambda i: i["id"])


def incident(api: Api, incident_id: int) -> dict[str, Any]:
    api.settle()
    response = api.client.get(f"{INCIDENTS}/{incident_id}", headers=api.viewer)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def timeline(api: Api, incident_id: int) -> list[dict[str, Any]]:
    api.settle()
    response = api.client.get(f"{INCIDENTS}/{incident_id}/timeline", headers=api.viewer)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def kinds(api: Api, incident_id: int) -> list[str]:
    return [entry["kind"] for entry in timeline(api, incident_id)]


def stored(api: Api) -> tuple[int, int]:
    """(alerts, incidents) as the API counts them."""
    api.settle()
    response = api.client.get(INCIDENTS, headers=api.viewer, params={"limit": 1})
    assert response.status_code == 200, response.text
    return alert_page(api, limit=1)["total"], response.json()["total"]


def am_alert(
    labels: dict[str, str],
    status: str = "firing",
    annotations: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One alert of an Alertmanager webhook notification."""
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations or {},
        "startsAt": "2026-11-26T14:22:40.307808Z",
        "endsAt": "2026-11-26T14:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0",
        **fields,
    }


def am_payload(*alerts_: dict[str, Any]) -> dict[str, Any]:
    """An Alertmanager version 4 webhook notification holding these alerts."""
    firing = any(a["status"] == "firing" for a in alerts_)
    return {
        "receiver": "warroom",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts_),
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


def post_am(api: Api, key: str, *alerts_: dict[str, Any]) -> dict[str, Any]:
    """Post alerts and wait for them to be ingested (``?wait=true``): what ingesting did."""
    response = api.client.post(
        f"/hooks/alertmanager/{key}", params={"wait": "true"}, json=am_payload(*alerts_)
    )
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    assert result["ingested"] is True, result
    return result


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    if field is not None:
        assert error["details"]["field"] == field, error


def assert_pd_invalid(response: Any, status: int = 400) -> list[str]:
    """PagerDuty's error body: status, message and a non-empty list of error strings."""
    assert response.status_code == status, response.text
    body = response.json()
    assert {k: body[k] for k in PD_INVALID} == PD_INVALID, body
    assert set(body) == {"status", "message", "errors"}, body
    assert body["errors"], body
    assert all(isinstance(e, str) and e for e in body["errors"]), body
    errors: list[str] = body["errors"]
    return errors


# --- integrations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("alertmanager", "/hooks/alertmanager/{key}"),
        ("grafana", "/hooks/grafana/{key}"),
        ("generic", "/hooks/generic/{key}"),
        ("events-v2", "/v2/enqueue"),
    ],
)
def test_creating_an_integration_gives_its_url(api: Api, kind: str, path: str) -> None:
    created = create_integration(api, f"src-{kind}", kind)
    assert created["kind"] == kind
    assert created["requires_token"] is False
    assert len(created["key"]) >= 20
    assert created["url"].startswith("http")
    assert hook_path(created) == path.format(key=created["key"])
    listed = api.client.get(INTEGRATIONS, headers=api.admin).json()
    assert [(i["name"], i["key"]) for i in listed] == [(f"src-{kind}", created["key"])]


def test_integrations_are_for_admins(api: Api) -> None:
    body = {"name": "prom", "kind": "alertmanager"}
    assert api.client.post(INTEGRATIONS, json=body).status_code == 401
    assert api.client.post(INTEGRATIONS, headers=api.responder, json=body).status_code == 403
    assert api.client.get(INTEGRATIONS, headers=api.viewer).status_code == 403
    assert api.client.get(INTEGRATIONS, headers=api.admin).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "prom", "kind": "nagios"}, "kind"),
        ({"name": "", "kind": "alertmanager"}, "name"),
        ({"name": "prom", "kind": "alertmanager", "auth_token": "short"}, "auth_token"),
        ({"kind": "alertmanager"}, "name"),
    ],
)
def test_bad_integrations_are_refused(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.client.post(INTEGRATIONS, headers=api.admin, json=body)
    assert_error(response, 422, "invalid_input", field)
    assert api.client.get(INTEGRATIONS, headers=api.admin).json() == []


def test_integration_names_are_unique(api: Api) -> None:
    create_integration(api, "prom", "alertmanager")
    response = api.client.post(
        INTEGRATIONS, headers=api.admin, json={"name": "prom", "kind": "grafana"}
    )
    assert_error(response, 409, "conflict", "name")


def test_rotating_the_key_retires_the_old_url(api: Api) -> None:
    old = create_integration(api, "prom", "alertmanager")
    response = api.client.post(f"{INTEGRATIONS}/prom/rotate-key", headers=api.admin)
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["key"] != old["key"]
    assert hook_path(new) == f"/hooks/alertmanager/{new['key']}"
    gone = post_capture(api, "alertmanager/webhook-firing-1.json", old["key"])
    assert_error(gone, 404, "not_found")
    assert stored(api) == (0, 0)
    assert post_capture(api, "alertmanager/webhook-firing-1.json", new["key"]).status_code == 202
    assert stored(api) == (2, 1)


# --- Alertmanager ---------------------------------------------------------------------------


def test_alertmanager_firing_then_resolved_from_captured_requests(api: Api) -> None:
    key = create_integration(api, "prometheus-prod", "alertmanager")["key"]
    firing = capture("alertmanager/webhook-firing-1.json")["body"]

    response = post_capture(api, "alertmanager/webhook-firing-1.json", key)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "alerts": 2}  # committed, ingested next
    [opened] = incidents(api)

    rows = alerts(api)
    assert [a["fingerprint"] for a in rows] == [a["fingerprint"] for a in firing["alerts"]]
    assert [a["summary"] for a in rows] == ["Primary database down", "Replica database down"]
    for row, sent in zip(rows, firing["alerts"], strict=True):
        assert row["status"] == "firing"
        assert row["source"] == "alertmanager"
        assert row["labels"] == sent["labels"]
        assert row["annotations"] == sent["annotations"]
        assert row["severity_hint"] == "critical"
        assert row["severity"] == "P1"
        assert row["count"] == 1
        assert ts(row["starts_at"]) == ts(sent["startsAt"])
        assert row["ends_at"] is None  # Alertmanager's 0001-01-01 means "not ended"
        assert row["silenced_by"] is None
        assert row["incident_id"] == opened["id"]

    assert (opened["severity"], opened["type"], opened["status"]) == (
        "P1",
        "operational",
        "triggered",
    )
    assert opened["source"] == "alertmanager"
    assert opened["title"] == "Primary database down"
    assert "instance=db-1" in opened["summary"]
    attached = [e for e in timeline(api, opened["id"]) if e["kind"] == "alert_attached"]
    assert [e["data"]["fingerprint"] for e in attached] == ["017bf2cb3a4fc503", "d0d77c2246b53272"]
    assert {e["actor"] for e in attached} == {"integration:prometheus-prod"}

    resolved = capture("alertmanager/webhook-resolved-4.json")["body"]
    response = post_capture(api, "alertmanager/webhook-resolved-4.json", key)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "alerts": 2}

    rows = alerts(api)
    assert [a["status"] for a in rows] == ["resolved", "resolved"]
    assert [ts(a["ends_at"]) for a in rows] == [ts(a["endsAt"]) for a in resolved["alerts"]]
    assert incident(api, opened["id"])["status"] == "mitigated"
    entries = kinds(api, opened["id"])
    assert entries.count("alert_resolved") == 2
    assert entries[-1] == "mitigated"
    assert stored(api) == (2, 1)


def test_alertmanager_grouped_notification_is_two_alerts_in_one_incident(api: Api) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    assert post_capture(api, "alertmanager/webhook-firing-1.json", key).status_code == 202
    rows = alerts(api)
    assert len(rows) == 2
    assert rows[0]["labels"]["instance"] != rows[1]["labels"]["instance"]
    assert len({a["incident_id"] for a in rows}) == 1
    assert len(incidents(api)) == 1


def test_alertmanager_retrying_a_notification_duplicates_nothing(api: Api) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    for _ in range(3):
        response = post_capture(api, "alertmanager/webhook-firing-1.json", key)
        assert response.status_code == 202, response.text
    assert [a["count"] for a in alerts(api)] == [3, 3]
    assert len(incidents(api)) == 1
    for _ in range(2):
        assert post_capture(api, "alertmanager/webhook-resolved-4.json", key).status_code == 202
    assert [a["status"] for a in alerts(api)] == ["resolved", "resolved"]
    assert stored(api) == (2, 1)


def test_alertmanager_resolved_for_an_unknown_alert_is_accepted_and_ignored(api: Api) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    response = post_capture(api, "alertmanager/webhook-resolved-4.json", key)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "alerts": 2}
    assert stored(api) == (0, 0)


def test_alertmanager_without_fingerprint_dedups_on_labels(api: Api) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    labels = {"alertname": "HighLoad", "instance": "web-1", "service": "web"}
    post_am(api, key, am_alert(labels))
    post_am(api, key, am_alert(dict(reversed(list(labels.items())))))
    [row] = alerts(api)
    assert row["count"] == 2
    assert row["summary"] == "HighLoad web"  # no annotation: alertname and service


# --- Grafana --------------------------------------------------------------------------------


def test_grafana_firing_and_partly_resolved(api: Api) -> None:
    key = create_integration(api, "grafana-cloud", "grafana")["key"]
    sent = capture("grafana/webhook-firing.json")["body"]

    response = post_capture(api, "grafana/webhook-firing.json", key)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "alerts": 2}

    latency, backlog = alerts(api)
    assert latency["fingerprint"] == "8c2f5a0e71d94b36"
    assert latency["source"] == "grafana"
    assert latency["summary"] == "Checkout p99 latency above 2 s"
    assert latency["generator_url"] == sent["alerts"][0]["generatorURL"]
    assert latency["annotations"]["runbook_url"] == sent["alerts"][0]["annotations"]["runbook_url"]
    assert latency["starts_at"] is not None
    assert ts(latency["starts_at"]) == ts("2026-11-26T14:04:10.512Z")  # +01:00 kept right
    assert latency["severity"] == "P1"
    assert backlog["summary"] == "Payments capture queue is backing up"
    assert backlog["severity"] == "P3"
    # Different alertname and service: two groups, two incidents.
    assert latency["incident_id"] != backlog["incident_id"]
    opened = {i["id"]: i for i in incidents(api)}
    assert len(opened) == 2
    assert opened[latency["incident_id"]]["severity"] == "P1"
    assert opened[latency["incident_id"]]["source"] == "grafana"
    assert opened[backlog["incident_id"]]["severity"] == "P3"

    response = post_capture(api, "grafana/webhook-mixed.json", key)
    assert response.status_code == 202, response.text
    latency, backlog = alerts(api)
    assert (latency["status"], backlog["status"]) == ("resolved", "firing")
    assert ts(latency["ends_at"]) == ts("2026-11-26T14:21:10.512Z")
    assert backlog["count"] == 2
    assert incident(api, latency["incident_id"])["status"] == "mitigated"
    assert incident(api, backlog["incident_id"])["status"] == "triggered"


def test_a_key_only_works_on_its_own_kinds_hook(api: Api) -> None:
    grafana = create_integration(api, "grafana", "grafana")["key"]
    generic = create_integration(api, "cron", "generic")["key"]
    response = post_capture(api, "alertmanager/webhook-firing-1.json", grafana)
    assert_error(response, 404, "not_found")
    response = api.client.post(f"/hooks/grafana/{generic}", json=am_payload(am_alert({"a": "b"})))
    assert_error(response, 404, "not_found")
    assert_pd_invalid(
        post_capture(api, "alertmanager/pagerduty-events-v2-trigger-2.json", generic), 404
    )
    assert stored(api) == (0, 0)


# --- PagerDuty Events v2 --------------------------------------------------------------------


def test_events_v2_trigger_acknowledge_resolve_from_captured_requests(api: Api) -> None:
    key = create_integration(api, "am-pagerduty", "events-v2")["key"]
    trigger = capture("alertmanager/pagerduty-events-v2-trigger-2.json")["body"]
    dedup_key = trigger["dedup_key"]

    response = post_capture(api, "alertmanager/pagerduty-events-v2-trigger-2.json", key)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": dedup_key,
    }
    [row] = alerts(api)
    assert row["fingerprint"] == dedup_key
    assert row["source"] == "events-v2"
    assert row["summary"] == "[FIRING:2] DatabaseDown db (prod-eu critical)"
    assert row["severity_hint"] == "error"
    assert row["severity"] == "P2"
    assert row["generator_url"] == trigger["client_url"]
    assert row["labels"]["source"] == "Alertmanager"
    [opened] = incidents(api)
    assert (opened["severity"], opened["status"], opened["source"]) == (
        "P2",
        "triggered",
        "events-v2",
    )

    ack = {"routing_key": key, "dedup_key": dedup_key, "event_action": "acknowledge"}
    response = api.client.post(ENQUEUE, json=ack)
    assert response.status_code == 202, response.text
    assert response.json()["dedup_key"] == dedup_key
    assert incident(api, opened["id"])["status"] == "acknowledged"
    assert "acknowledged" in kinds(api, opened["id"])
    assert stored(api) == (1, 1)  # an acknowledgement is not an alert

    response = post_capture(api, "alertmanager/pagerduty-events-v2-resolve-3.json", key)
    assert response.status_code == 202, response.text
    assert response.json()["dedup_key"] == dedup_key
    [row] = alerts(api)
    assert row["status"] == "resolved"
    assert incident(api, opened["id"])["status"] == "mitigated"
    assert kinds(api, opened["id"])[-2:] == ["alert_resolved", "mitigated"]
    assert stored(api) == (1, 1)


def test_events_v2_repeated_trigger_is_one_alert(api: Api) -> None:
    key = create_integration(api, "am-pagerduty", "events-v2")["key"]
    for _ in range(2):
        response = post_capture(api, "alertmanager/pagerduty-events-v2-trigger-2.json", key)
        assert response.status_code == 202, response.text
    [row] = alerts(api)
    assert row["count"] == 2
    assert len(incidents(api)) == 1


def test_events_v2_without_dedup_key_gets_one_generated(api: Api) -> None:
    key = create_integration(api, "nagios", "events-v2")["key"]
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {
            "summary": "PING CRITICAL - Packet loss = 100%",
            "source": "gw-2.example.com",
            "severity": "critical",
            "component": "uplink",
            "group": "edge",
            "class": "network",
            "custom_details": {"rta": "n/a", "loss": "100%"},
        },
    }
    keys = []
    for _ in range(2):
        response = api.client.post(ENQUEUE, json=event)
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["status"], body["message"]) == ("success", "Event processed")
        assert isinstance(body["dedup_key"], str)
        assert body["dedup_key"]
        keys.append(body["dedup_key"])
    assert keys[0] != keys[1]  # no dedup_key: every trigger is a new alert
    rows = alerts(api)
    assert [a["fingerprint"] for a in rows] == keys
    assert rows[0]["labels"] == {
        "source": "gw-2.example.com",
        "severity": "critical",
        "component": "uplink",
        "group": "edge",
        "class": "network",
    }
    assert rows[0]["severity"] == "P1"

    resolve = {"routing_key": key, "event_action": "resolve", "dedup_key": keys[0]}
    response = api.client.post(ENQUEUE, json=resolve)
    assert response.status_code == 202, response.text
    assert response.json()["dedup_key"] == keys[0]
    assert [a["status"] for a in alerts(api)] == ["resolved", "firing"]


def test_events_v2_acknowledge_of_an_unknown_dedup_key_changes_nothing(api: Api) -> None:
    key = create_integration(api, "am-pagerduty", "events-v2")["key"]
    ack = {"routing_key": key, "dedup_key": "never-sent", "event_action": "acknowledge"}
    assert api.client.post(ENQUEUE, json=ack).status_code == 202
    assert stored(api) == (0, 0)


# --- generic --------------------------------------------------------------------------------


def test_generic_list_form(api: Api) -> None:
    key = create_integration(api, "cron", "generic")["key"]
    body = {
        "alerts": [
            {
                "summary": "Disk 95% full on db-1",
                "status": "firing",
                "dedup_key": "disk-db-1",
                "severity": "warning",
                "source": "cron-check",
                "labels": {"service": "db"},
                "details": {"used": "95%", "mount": ["/var/lib/postgresql"]},
                "starts_at": "2026-11-26T10:00:00+02:00",
                "url": "https://grafana.example.com/d/abc",
            },
            {"summary": "Backup job failed", "severity": "P2", "labels": {"service": "backup"}},
        ]
    }
    response = api.client.post(f"/hooks/generic/{key}?wait=true", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["created"] == 2
    disk, backup = alerts(api)
    assert disk["fingerprint"] == "disk-db-1"
    assert disk["source"] == "cron-check"
    assert disk["labels"] == {"service": "db", "severity": "warning"}
    assert disk["severity"] == "P3"
    assert disk["generator_url"] == "https://grafana.example.com/d/abc"
    assert ts(disk["starts_at"]) == ts("2026-11-26T08:00:00Z")
    assert backup["source"] == "generic"
    assert backup["status"] == "firing"
    assert backup["severity"] == "P2"
    assert len(incidents(api)) == 2

    response = api.client.post(
        f"/hooks/generic/{key}?wait=true",
        json={"alerts": [{"summary": "Disk 95% full on db-1", "dedup_key": "disk-db-1"}]},
    )
    assert response.json()["deduplicated"] == 1
    response = api.client.post(
        f"/hooks/generic/{key}?wait=true",
        json={"alerts": [{"summary": "Disk fine", "dedup_key": "disk-db-1", "status": "resolved"}]},
    )
    assert response.json()["resolved"] == 1
    disk, backup = alerts(api)
    assert (disk["status"], disk["count"]) == ("resolved", 2)
    assert incident(api, disk["incident_id"])["status"] == "mitigated"


def test_generic_bare_single_alert(api: Api) -> None:
    key = create_integration(api, "cron", "generic")["key"]
    bare = {"summary": "Certificate for shop.example.com expires in 3 days", "severity": "error"}
    for _ in range(2):
        response = api.client.post(f"/hooks/generic/{key}", json=bare)
        assert response.status_code == 202, response.text
        assert response.json()["alerts"] == 1
    [row] = alerts(api)
    assert row["summary"] == bare["summary"]
    assert row["count"] == 2  # no dedup_key: labels and summary make the fingerprint
    assert row["severity"] == "P2"
    [opened] = incidents(api)
    assert (opened["title"], opened["source"]) == (bare["summary"], "generic")


# --- authentication -------------------------------------------------------------------------


def _send(api: Api, kind: str, key: str, headers: dict[str, str]) -> Any:
    if kind == "events-v2":
        return post_capture(api, "alertmanager/pagerduty-events-v2-trigger-2.json", key, headers)
    if kind == "generic":
        return api.client.post(f"/hooks/generic/{key}", json={"summary": "x"}, headers=headers)
    if kind == "grafana":
        return post_capture(api, "grafana/webhook-firing.json", key, headers)
    return post_capture(api, "alertmanager/webhook-firing-1.json", key, headers)


@pytest.mark.parametrize("kind", ["alertmanager", "grafana", "generic", "events-v2"])
def test_an_integration_with_a_token_requires_it(api: Api, kind: str) -> None:
    created = create_integration(api, "secured", kind, auth_token=TOKEN)
    assert created["requires_token"] is True
    key = created["key"]
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        response = _send(api, kind, key, headers)
        assert_error(response, 401, "unauthorized")
        assert stored(api) == (0, 0), headers
    response = _send(api, kind, key, {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 202, response.text
    assert stored(api)[0] >= 1


def test_a_token_does_not_open_an_unknown_key(api: Api) -> None:
    create_integration(api, "secured", "alertmanager", auth_token=TOKEN)
    response = _send(api, "alertmanager", "no-such-key", {"Authorization": f"Bearer {TOKEN}"})
    assert_error(response, 404, "not_found")
    assert stored(api) == (0, 0)


# --- bad input: nothing is stored -----------------------------------------------------------


@pytest.fixture
def keys(api: Api) -> dict[str, str]:
    """One integration of each kind, and something already stored to be left alone."""
    made = {
        kind: create_integration(api, kind, kind)["key"]
        for kind in ("alertmanager", "grafana", "generic", "events-v2")
    }
    assert (
        post_capture(api, "alertmanager/webhook-firing-1.json", made["alertmanager"]).status_code
        == 202
    )
    assert stored(api) == (2, 1)
    return made


@pytest.mark.parametrize("hook", ["alertmanager", "grafana", "generic"])
def test_unknown_key_is_404(api: Api, keys: dict[str, str], hook: str) -> None:
    body = capture("alertmanager/webhook-firing-1.json")["body"]
    if hook == "generic":
        body = {"summary": "x"}
    response = api.client.post(f"/hooks/{hook}/not-a-key", json=body)
    assert_error(response, 404, "not_found")
    assert stored(api) == (2, 1)


def test_unknown_routing_key_is_404_with_pagerdutys_body(api: Api, keys: dict[str, str]) -> None:
    response = post_capture(api, "alertmanager/pagerduty-events-v2-trigger-2.json", "not-a-key")
    assert assert_pd_invalid(response, 404) == ["Invalid routing key"]
    # An alertmanager key is not a routing key either.
    response = post_capture(
        api, "alertmanager/pagerduty-events-v2-trigger-2.json", keys["alertmanager"]
    )
    assert_pd_invalid(response, 404)
    assert stored(api) == (2, 1)


MALFORMED = [b"", b"{", b'{"alerts": [', b"not json", b"\xff\xfe\x00garbage", b'{"a": 1}{"b": 2}']


@pytest.mark.parametrize("hook", ["alertmanager", "grafana", "generic"])
@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_json_is_400(api: Api, keys: dict[str, str], hook: str, body: bytes) -> None:
    response = api.client.post(
        f"/hooks/{hook}/{keys[hook]}", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_payload")
    assert stored(api) == (2, 1)


def _am(**changes: Any) -> dict[str, Any]:
    """The captured notification with fresh fingerprints (so anything stored would show)."""
    body = copy.deepcopy(capture("alertmanager/webhook-firing-1.json")["body"])
    for alert in body["alerts"]:
        alert["fingerprint"] += "-new"
    body.update(changes)
    return body


def _am_alert0(**changes: Any) -> dict[str, Any]:
    body = _am()
    body["alerts"][0].update(changes)
    return body


NOT_ALERTMANAGER = [
    ({"receiver": "warroom", "status": "firing"}, "alerts"),
    (_am(alerts=[]), "alerts"),
    (_am(alerts="DatabaseDown"), "alerts"),
    (_am(status="bogus"), "status"),
    (_am_alert0(status="bogus"), "alerts[0].status"),
    (_am_alert0(status=None), "alerts[0].status"),
    (_am_alert0(labels={}), "alerts[0].labels"),
    (_am_alert0(labels={"alertname": 1}), "alerts[0].labels.alertname"),
    (_am_alert0(annotations={"summary": ["a"]}), "alerts[0].annotations.summary"),
    (_am_alert0(startsAt="yesterday"), "alerts[0].startsAt"),
    (_am_alert0(startsAt="2026-11-26T14:22:40"), "alerts[0].startsAt"),
    ([_am()], "body"),
    ("firing", "body"),
    (None, "body"),
]


@pytest.mark.parametrize("hook", ["alertmanager", "grafana"])
@pytest.mark.parametrize(("body", "field"), NOT_ALERTMANAGER, ids=[f for _, f in NOT_ALERTMANAGER])
def test_payload_not_fitting_alertmanager_or_grafana_is_400(
    api: Api, keys: dict[str, str], hook: str, body: Any, field: str
) -> None:
    response = api.client.post(
        f"/hooks/{hook}/{keys[hook]}",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_payload", field)
    assert field in response.json()["error"]["message"] or field == "body"
    assert stored(api) == (2, 1)


NOT_GENERIC = [
    ({"alerts": []}, "alerts"),
    ({"alerts": [{}]}, "alerts[0].summary"),
    ({"alerts": [{"summary": "ok"}, {"summary": ""}]}, "alerts[1].summary"),
    ({"summary": "x" * 301}, "alerts[0].summary"),
    ({"summary": "x", "status": "bogus"}, "alerts[0].status"),
    ({"summary": "x", "labels": {"service": 1}}, "alerts[0].labels.service"),
    ({"summary": "x", "starts_at": "2026-11-26T10:00:00"}, "alerts[0].starts_at"),
    ({"summary": "x", "colour": "red"}, "alerts[0].colour"),
    ({"alerts": [{"summary": "x"}], "extra": 1}, "extra"),
    ([{"summary": "x"}], "body"),
]


@pytest.mark.parametrize(("body", "field"), NOT_GENERIC, ids=[f for _, f in NOT_GENERIC])
def test_payload_not_fitting_generic_is_400(
    api: Api, keys: dict[str, str], body: Any, field: str
) -> None:
    response = api.client.post(f"/hooks/generic/{keys['generic']}", json=body)
    assert_error(response, 400, "invalid_payload", field)
    assert stored(api) == (2, 1)


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(
        capture("alertmanager/pagerduty-events-v2-trigger-2.json")["body"]
    )
    for name, value in changes.items():
        if value is ...:
            event.pop(name, None)
        else:
            event[name] = value
    return event


def _event_payload(**changes: Any) -> dict[str, Any]:
    event = _event()
    for name, value in changes.items():
        if value is ...:
            event["payload"].pop(name, None)
        else:
            event["payload"][name] = value
    return event


BAD_EVENTS = {
    "empty": {},
    "no-routing-key": _event(routing_key=...),
    "no-action": _event(event_action=...),
    "bogus-action": _event(event_action="escalate"),
    "trigger-without-payload": _event(payload=...),
    "payload-not-object": _event(payload="down"),
    "no-summary": _event_payload(summary=...),
    "blank-summary": _event_payload(summary=""),
    "no-source": _event_payload(source=...),
    "no-severity": _event_payload(severity=...),
    "bogus-severity": _event_payload(severity="fatal"),
    "bad-timestamp": _event_payload(timestamp="last tuesday"),
    "resolve-without-dedup-key": _event(event_action="resolve", dedup_key=...),
    "acknowledge-without-dedup-key": _event(event_action="acknowledge", dedup_key=...),
    "blank-dedup-key": _event(dedup_key=""),
    "long-dedup-key": _event(dedup_key="k" * 256),
    "list": [_event()],
}


@pytest.mark.parametrize("name", list(BAD_EVENTS))
def test_enqueue_of_a_malformed_event_is_400_with_pagerdutys_body(
    api: Api, keys: dict[str, str], name: str
) -> None:
    event = copy.deepcopy(BAD_EVENTS[name])
    if isinstance(event, dict) and "routing_key" in event:
        event["routing_key"] = keys["events-v2"]
    response = api.client.post(ENQUEUE, json=event)
    assert_pd_invalid(response)
    assert stored(api) == (2, 1)


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_enqueue_of_malformed_json_is_400_with_pagerdutys_body(
    api: Api, keys: dict[str, str], body: bytes
) -> None:
    response = api.client.post(ENQUEUE, content=body, headers={"Content-Type": "application/json"})
    assert_pd_invalid(response)
    assert stored(api) == (2, 1)


def _padded(size: int) -> bytes:
    """A valid Alertmanager notification of exactly ``size`` bytes (padded by an extra
    field, which the webhook allows)."""
    body = am_payload(am_alert({"alertname": "Big", "service": "pad"}))
    body["pad"] = ""
    base = len(json.dumps(body).encode())
    body["pad"] = "x" * (size - base)
    data = json.dumps(body).encode()
    assert len(data) == size
    return data


def test_a_body_of_exactly_1_mib_is_taken(api: Api, keys: dict[str, str]) -> None:
    response = api.client.post(
        f"/hooks/alertmanager/{keys['alertmanager']}",
        content=_padded(MAX_BODY),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    assert stored(api) == (3, 2)


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


@pytest.mark.parametrize("hook", ["alertmanager", "grafana"])
def test_a_body_sent_in_small_chunks_is_taken_whole(
    api: Api, keys: dict[str, str], hook: str
) -> None:
    """The hooks take a body that came in one piece as it is, and read any other from its
    chunks, the first one included. Called as uvicorn calls the app, one ASGI message a
    chunk (the test client hands over a body whole)."""
    labels = {"alertname": "Chunked", "service": "pieces", "instance": hook}
    data = json.dumps(am_payload(am_alert(labels))).encode()
    messages = [
        {"type": "http.request", "body": data[i : i + 50], "more_body": i + 50 < len(data)}
        for i in range(0, len(data), 50)
    ]
    assert len(messages) > 2
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/hooks/{hook}/{keys[hook]}",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(api.client.app(scope, receive, send))
    assert sent[0]["status"] == 202, sent
    assert stored(api) == (3, 2)
    assert [a["labels"] for a in alerts(api) if a["labels"].get("alertname") == "Chunked"] == [
        labels
    ]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("target", ["alertmanager", "grafana", "generic", "events-v2", "reports"])
def test_a_body_over_1_mib_is_413(
    api: Api, keys: dict[str, str], target: str, chunked: bool
) -> None:
    if target == "events-v2":
        event = _event(routing_key=keys["events-v2"])
        event["payload"]["custom_details"] = {"pad": "x" * MAX_BODY}
        data, path = json.dumps(event).encode(), ENQUEUE
    elif target == "reports":
        report = {"name": "A", "contact": "a@example.com", "description": "x" * MAX_BODY}
        data, path = json.dumps(report).encode(), REPORTS
    elif target == "generic":
        data = json.dumps({"summary": "big", "details": {"pad": "x" * MAX_BODY}}).encode()
        path = f"/hooks/generic/{keys['generic']}"
    else:
        data, path = _padded(MAX_BODY + 1), f"/hooks/{target}/{keys[target]}"
    assert len(data) > MAX_BODY
    content: Any = _chunks(data) if chunked else data
    response = api.client.post(path, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert stored(api) == (2, 1)


# --- customer reports -----------------------------------------------------------------------


REPORT = {
    "name": "Dana Scully",
    "contact": "dana@example.com",
    "description": "Checkout spins forever after I press Pay",
}


def test_a_customer_report_opens_a_triage_alert(api: Api) -> None:
    response = api.client.post(REPORTS, json=REPORT)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "received"
    reference = body["reference"]
    assert re.fullmatch(r"[0-9a-f]{12}", reference), reference
    [row] = alerts(api)
    assert row["source"] == "customer-report"
    assert row["status"] == "firing"
    assert row["labels"] == {"alertname": "CustomerReport", "severity": "warning"}
    assert row["summary"] == f"Customer report: {REPORT['description']}"
    assert reference in row["fingerprint"]
    assert [a["id"] for a in alerts(api, q=reference)] == [row["id"]]
    assert row["severity"] == "P3"
    [opened] = incidents(api)
    assert opened["id"] == row["incident_id"]
    assert opened["severity"] == "P3"
    integration = api.client.get(INTEGRATIONS, headers=api.admin).json()
    assert [(i["name"], i["kind"]) for i in integration] == [("customer-reports", "generic")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**REPORT, "name": ""}, "name"),
        ({k: v for k, v in REPORT.items() if k != "contact"}, "contact"),
        ({**REPORT, "description": "   "}, "description"),
        ({**REPORT, "description": "x" * 5001}, "description"),
        ({**REPORT, "name": "x" * 201}, "name"),
        ({**REPORT, "phone": "555"}, "phone"),
        ({**REPORT, "name": "nul\x00byte"}, "name"),
    ],
)
def test_a_bad_customer_report_is_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = api.client.post(REPORTS, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == field
    assert stored(api) == (0, 0)


def test_a_customer_report_that_is_not_json_is_400(api: Api) -> None:
    response = api.client.post(
        REPORTS, content=b"name=Dana", headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 400, "invalid_payload")
    assert stored(api) == (0, 0)


def test_customer_reports_are_rate_limited_per_client(api: Api) -> None:
    for i in range(5):
        response = api.client.post(REPORTS, json={**REPORT, "description": f"report {i}"})
        assert response.status_code == 202, response.text
    before = stored(api)
    assert before[0] == 5
    response = api.client.post(REPORTS, json={**REPORT, "description": "one too many"})
    assert_error(response, 429, "rate_limited")
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    # The form shares the limit.
    response = api.client.post("/report", data={**REPORT, "description": "by the form"})
    assert response.status_code == 429
    assert response.headers["Retry-After"].isdigit()
    assert stored(api) == before
    assert alerts(api, q="one too many") == []
    assert alerts(api, q="by the form") == []


def test_the_report_form(api: Api) -> None:
    response = api.client.get("/report")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<form method="post" action="/report">' in page
    for name in ("name", "contact", "description"):
        assert f'name="{name}"' in page


def test_the_report_form_takes_a_report(api: Api) -> None:
    response = api.client.post("/report", data=REPORT)
    assert response.status_code == 202, response.text
    assert response.headers["content-type"].startswith("text/html")
    found = re.search(r"reference <strong>([0-9a-f]{12})</strong>", response.text)
    assert found, response.text
    [row] = alerts(api)
    assert found.group(1) in row["fingerprint"]
    assert row["source"] == "customer-report"
    assert row["summary"] == f"Customer report: {REPORT['description']}"


def test_the_report_form_keeps_the_input_of_a_bad_report(api: Api) -> None:
    typed = {"name": "O'Brien & <Sons>", "contact": "", "description": "Cannot <b>log in</b>"}
    response = api.client.post("/report", data=typed)
    assert response.status_code == 400, response.text
    page = response.text
    assert '<form method="post" action="/report">' in page
    assert 'value="O&#39;Brien &amp; &lt;Sons&gt;"' in page
    assert "Cannot &lt;b&gt;log in&lt;/b&gt;</textarea>" in page
    assert "<Sons>" not in page  # escaped, never echoed raw
    assert 'class="error"' in page
    assert stored(api) == (0, 0)


# --- concurrency ----------------------------------------------------------------------------


def _at_once(api: Api, workers: int, per_thread_client: bool, send: Any) -> list[int]:
    """Run ``send(client)`` from ``workers`` threads released together; the status codes
    (a server error is a 500 here, as a real client would see it)."""
    barrier = threading.Barrier(workers)
    app = api.client.app

    def one(client: TestClient | None) -> int:
        if client is None:
            with TestClient(app, raise_server_exceptions=False) as own:
                barrier.wait(timeout=60)
                return int(send(own).status_code)
        barrier.wait(timeout=60)
        return int(send(client).status_code)

    if per_thread_client:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, [None] * workers))
    with (
        TestClient(app, raise_server_exceptions=False) as shared,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        return list(pool.map(one, [shared] * workers))


CLIENTS = pytest.mark.parametrize("per_thread_client", [False, True], ids=["shared", "per-thread"])


@CLIENTS
def test_the_same_alert_from_many_clients_at_once_is_one_alert_and_one_incident(
    api: Api, per_thread_client: bool
) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    body = am_payload(
        am_alert(
            {"alertname": "DatabaseDown", "service": "db", "severity": "critical"},
            annotations={"summary": "Primary database down"},
            fingerprint="017bf2cb3a4fc503",
        )
    )
    codes = _at_once(
        api, 12, per_thread_client, lambda c: c.post(f"/hooks/alertmanager/{key}", json=body)
    )
    assert codes == [202] * 12
    [row] = alerts(api)
    assert row["count"] == 12
    [opened] = incidents(api)
    assert kinds(api, opened["id"]).count("alert_attached") == 1


@CLIENTS
def test_the_same_event_from_many_clients_at_once_is_one_alert(
    api: Api, per_thread_client: bool
) -> None:
    key = create_integration(api, "am-pagerduty", "events-v2")["key"]
    event = _event(routing_key=key)
    codes = _at_once(api, 12, per_thread_client, lambda c: c.post(ENQUEUE, json=event))
    assert codes == [202] * 12
    [row] = alerts(api)
    assert row["count"] == 12
    assert len(incidents(api)) == 1


@CLIENTS
def test_many_alerts_of_one_group_at_once_open_one_incident(
    api: Api, per_thread_client: bool
) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    counter = iter(range(1000))
    lock = threading.Lock()

    def send(client: TestClient) -> Any:
        with lock:
            n = next(counter)
        labels = {"alertname": "NodeDown", "service": "web", "instance": f"web-{n}"}
        return client.post(f"/hooks/alertmanager/{key}", json=am_payload(am_alert(labels)))

    assert _at_once(api, 12, per_thread_client, send) == [202] * 12
    rows = alerts(api)
    assert len(rows) == 12
    assert len({a["incident_id"] for a in rows}) == 1
    [opened] = incidents(api)
    assert kinds(api, opened["id"]).count("alert_attached") == 12


@CLIENTS
def test_the_first_customer_reports_at_once_are_all_taken(
    api: Api, per_thread_client: bool
) -> None:
    """The reports integration is made on first use; concurrent first reports must not
    race to create it."""
    codes = _at_once(api, 5, per_thread_client, lambda c: c.post(REPORTS, json=REPORT))
    assert codes == [202] * 5
    assert len(alerts(api)) == 5
    names = [i["name"] for i in api.client.get(INTEGRATIONS, headers=api.admin).json()]
    assert names == ["customer-reports"]


# --- odd but valid input --------------------------------------------------------------------


def _lenient(api: Api) -> TestClient:
    """A client that answers a server error with a 500, as a real sender sees it."""
    return TestClient(api.client.app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "labels",
    [
        {"alertname": "Disk", "service": "db", "severity": "critical-during-business-hours"},
        {"alertname": "Disk", "service": "s" * 600},
    ],
    ids=["long-severity", "long-service"],
)
def test_long_label_values_are_taken_on_both_backends(api: Api, labels: dict[str, str]) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    with _lenient(api) as client:
        response = client.post(f"/hooks/alertmanager/{key}", json=am_payload(am_alert(labels)))
    assert response.status_code == 202, response.text
    [row] = alerts(api)
    assert row["labels"] == labels
    assert len(incidents(api)) == 1


def test_a_long_alertmanager_fingerprint_is_taken_on_both_backends(api: Api) -> None:
    key = create_integration(api, "prom", "alertmanager")["key"]
    alert = am_alert({"alertname": "Disk", "service": "db"}, fingerprint="f" * 300)
    with _lenient(api) as client:
        for _ in range(2):
            response = client.post(f"/hooks/alertmanager/{key}", json=am_payload(alert))
            assert response.status_code == 202, response.text
    [row] = alerts(api)
    assert row["count"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"summary": "disk\x00full"}, "alerts[0].summary"),
        ({"summary": "disk full", "labels": {"host": "db\x001"}}, "alerts[0].labels.host"),
        ({"summary": "disk full", "details": {"raw": "\x00"}}, "alerts[0].details.raw"),
    ],
    ids=["summary", "label", "details"],
)
def test_nul_characters_are_refused_with_400_on_both_backends(
    api: Api, body: dict[str, Any], field: str
) -> None:
    """PostgreSQL cannot store NUL; the API refuses it everywhere else (no_nul), so a hook
    must too, naming the field, instead of failing on one backend."""
    key = create_integration(api, "cron", "generic")["key"]
    with _lenient(api) as client:
        response = client.post(f"/hooks/generic/{key}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"]["field"] == field
    assert stored(api) == (0, 0)


@pytest.mark.parametrize("kind", ["alertmanager", "grafana"])
def test_the_plain_asgi_hooks_answer_other_methods_405(
    api: Api, keys: dict[str, str], kind: str
) -> None:
    response = api.client.get(f"/hooks/{kind}/{keys[kind]}")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    assert stored(api) == (2, 1)  # what the fixture stored, nothing more
