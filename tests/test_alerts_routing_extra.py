"""Grouping of label-less events and severity raised by a worse alert in the group."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from warroom.alerts.routing import decide
from warroom.playbook.schema import AlertRouting


def _integration(api: Api, kind: str) -> str:
    response = api.client.post(
        "/api/v1/integrations", headers=api.admin, json={"name": kind, "kind": kind}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def _am(labels: dict[str, str], fingerprint: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "db down"},
                "fingerprint": fingerprint,
            }
        ],
    }


def test_pagerduty_events_with_different_dedup_keys_open_different_incidents(api: Api) -> None:
    key = _integration(api, "events-v2")
    for dedup in ("disk-1", "cpu-7"):
        event = {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": dedup,
            "payload": {"summary": f"{dedup} bad", "source": "host", "severity": "error"},
        }
        assert api.client.post("/v2/enqueue", json=event).status_code == 202
    api.settle()  # answered once committed; ingested right after
    incidents = api.client.get("/api/v1/incidents", headers=api.viewer).json()["items"]
    assert sorted(i["title"] for i in incidents) == ["cpu-7 bad", "disk-1 bad"]


def test_a_worse_alert_joining_the_group_raises_the_incident(api: Api) -> None:
    key = _integration(api, "alertmanager")
    base = {"alertname": "DatabaseDown", "service": "db"}
    first = api.client.post(
        f"/hooks/alertmanager/{key}?wait=true",
        json=_am({**base, "instance": "db-1", "severity": "critical"}, "a1"),
    )
    (incident_id,) = first.json()["incidents"]
    api.client.post(
        f"/hooks/alertmanager/{key}?wait=true",
        json=_am({**base, "instance": "db-2", "severity": "P0"}, "a2"),
    )
    incident = api.client.get(f"/api/v1/incidents/{incident_id}", headers=api.viewer).json()
    assert incident["severity"] == "P0"
    assert incident["phases"][0]["key"] == "p0-immediate-response"
    listing = api.client.get("/api/v1/incidents", headers=api.viewer).json()
    assert listing["total"] == 1
    api.client.post(
        f"/hooks/alertmanager/{key}?wait=true",
        json=_am({**base, "instance": "db-3", "severity": "warning"}, "a3"),
    )
    incident = api.client.get(f"/api/v1/incidents/{incident_id}", headers=api.viewer).json()
    assert incident["severity"] == "P0", "a milder alert never lowers the severity"


def test_default_routing_bends_to_a_playbook_without_those_severities() -> None:
    routing = AlertRouting()
    assert decide(routing, {"severity": "critical"}, {"P1"}).severity == "P1"
    assert decide(routing, {"severity": "warning"}, {"P1"}).severity is None
    assert decide(routing, {}, {"P1", "P3"}).severity == "P3"
