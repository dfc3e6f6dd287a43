"""The incidents API over HTTP on both backends: declare, list, lifecycle, re-planning,
roles, tasks, notes, the timeline, idempotency and concurrent acknowledgements."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from warroom.clock import FakeClock
from warroom.playbook.loader import load_playbook

INCIDENTS = "/api/v1/incidents"

P0_PHASES = ["p0-immediate-response", "p0-assessment", "p0-recovery"]
P1_PHASES = ["p1-assessment", "p1-mitigation", "p1-resolution"]
SECURITY_PHASES = [
    "security-containment",
    "security-investigation",
    "security-recovery-notification",
]
POST_INCIDENT_PHASES = ["immediate", "short-term", "long-term"]


def ts(value: str | None) -> datetime | None:
    """A datetime from the API's ISO 8601 text."""
    return None if value is None else datetime.fromisoformat(value)


def declare(api: Api, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Checkout down", "severity": "P0", **fields}
    response = api.client.post(INCIDENTS, headers=headers or api.responder, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def get(api: Api, incident_id: int) -> dict[str, Any]:
    response = api.client.get(f"{INCIDENTS}/{incident_id}", headers=api.viewer)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def act(api: Api, incident_id: int, action: str, **body: Any) -> Any:
    """Take an action as a responder; closing and reopening are the commander's."""
    headers = api.commander if action in ("close", "reopen") else api.responder
    return api.client.post(
        f"{INCIDENTS}/{incident_id}/{action}", headers=headers, json=body or None
    )


def timeline(api: Api, incident_id: int) -> list[dict[str, Any]]:
    response = api.client.get(f"{INCIDENTS}/{incident_id}/timeline", headers=api.viewer)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def kinds(api: Api, incident_id: int) -> list[str]:
    return [entry["kind"] for entry in timeline(api, incident_id)]


def windows(incident: dict[str, Any]) -> dict[str, tuple[datetime | None, datetime | None]]:
    return {p["key"]: (ts(p["starts_at"]), ts(p["due_at"])) for p in incident["phases"]}


def phase(incident: dict[str, Any], key: str) -> dict[str, Any]:
    return next(p for p in incident["phases"] if p["key"] == key)


def add_person(api: Api, name: str, email: str | None = None) -> int:
    body: dict[str, Any] = {"name": name}
    if email:
        body["email"] = email
    response = api.client.post("/api/v1/people", headers=api.responder, json=body)
    assert response.status_code == 201, response.text
    person_id: int = response.json()["id"]
    return person_id


def count_incidents(api: Api) -> int:
    response = api.client.get(INCIDENTS, headers=api.viewer)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


# --- declare ------------------------------------------------------------------------------


def test_declare_returns_201_location_and_the_full_incident(api: Api, clock: FakeClock) -> None:
    response = api.client.post(
        INCIDENTS,
        headers=api.responder,
        json={
            "title": "Checkout down",
            "severity": "P0",
            "summary": "All checkouts fail",
            "source": "pagerduty",
        },
    )
    assert response.status_code == 201, response.text
    incident = response.json()
    assert response.headers["Location"] == f"{INCIDENTS}/{incident['id']}"
    assert "Idempotent-Replayed" not in response.headers
    for key in ("id", "title", "severity", "type", "status", "created_at", "roles", "phases"):
        assert key in incident, key
    assert incident["title"] == "Checkout down"
    assert incident["summary"] == "All checkouts fail"
    assert incident["source"] == "pagerduty"
    assert incident["severity"] == "P0"
    assert incident["type"] == "operational"
    assert incident["status"] == "triggered"
    assert incident["created_by"] == "token:responder-token"
    assert ts(incident["created_at"]) == clock.now()
    assert incident["allowed_actions"] == ["acknowledge", "mitigate", "resolve"]
    for p in incident["phases"]:
        for key in ("key", "name", "starts_at", "due_at", "tasks"):
            assert key in p, key
        assert p["tasks"], p["key"]
        assert all(t["status"] == "open" for t in p["tasks"])
    assert {r["key"] for r in incident["roles"]} == {
        "incident-commander",
        "technical-lead",
        "communications-lead",
    }
    assert all(r["required"] and r["person"] is None for r in incident["roles"])
    assert get(api, incident["id"]) == incident


@pytest.mark.parametrize(("severity", "type_"), [("P0", "operational"), ("P1", "security")])
def test_each_phase_holds_its_own_tasks_in_playbook_order(
    api: Api, severity: str, type_: str
) -> None:
    """The phases and tasks of a plan are written many rows to a statement: each task must
    still land in its own phase, in the playbook's order."""
    incident = declare(api, severity=severity, type=type_)
    planned = load_playbook().phases_for(type_, severity)
    assert [p["key"] for p in incident["phases"]] == [p.key for p in planned]
    for shown, wanted in zip(incident["phases"], planned, strict=True):
        assert [t["key"] for t in shown["tasks"]] == [t.key for t in wanted.tasks], wanted.key
    ids = [t["id"] for p in incident["phases"] for t in p["tasks"]]
    assert ids == sorted(ids)  # numbered in the plan's order


def test_p0_phase_windows_follow_the_fake_clock(api: Api, clock: FakeClock) -> None:
    clock.advance(timedelta(hours=5, minutes=7))
    t0 = clock.now()
    incident = declare(api, severity="P0")
    assert [p["key"] for p in incident["phases"]] == P0_PHASES
    assert windows(incident) == {
        "p0-immediate-response": (t0, t0 + timedelta(minutes=15)),
        "p0-assessment": (t0 + timedelta(minutes=15), t0 + timedelta(minutes=30)),
        "p0-recovery": (t0 + timedelta(minutes=30), None),
    }
    immediate = phase(incident, "p0-immediate-response")
    assert immediate["state"] == "running"
    assert phase(incident, "p0-assessment")["state"] == "upcoming"
    assert all(ts(t["due_at"]) == t0 + timedelta(minutes=15) for t in immediate["tasks"])
    assert all(t["due_at"] is None for t in phase(incident, "p0-recovery")["tasks"])
    assert incident["current_phase"] == "p0-immediate-response"
    assert ts(incident["next_due_at"]) == t0 + timedelta(minutes=15)
    recovery_tasks = {t["key"] for t in phase(incident, "p0-recovery")["tasks"]}
    assert "validate-restoration" in recovery_tasks

    clock.advance(timedelta(minutes=20))
    later = get(api, incident["id"])
    assert phase(later, "p0-immediate-response")["state"] == "overdue"
    assert phase(later, "p0-assessment")["state"] == "running"
    assert windows(later) == windows(incident)  # reading never moves the clocks


def test_p1_phase_windows(api: Api, clock: FakeClock) -> None:
    clock.advance(timedelta(days=3))
    t0 = clock.now()
    incident = declare(api, severity="P1", title="Slow search")
    assert [p["key"] for p in incident["phases"]] == P1_PHASES
    assert windows(incident) == {
        "p1-assessment": (t0, t0 + timedelta(minutes=15)),
        "p1-mitigation": (t0 + timedelta(minutes=15), t0 + timedelta(minutes=45)),
        "p1-resolution": (t0 + timedelta(minutes=45), t0 + timedelta(minutes=60)),
    }


def test_security_incident_requires_security_lead_and_runs_security_phases(
    api: Api, clock: FakeClock
) -> None:
    t0 = clock.now()
    incident = declare(api, severity="P0", type="security", title="Credential leak")
    assert incident["type"] == "security"
    roles = {r["key"]: r for r in incident["roles"]}
    assert roles["security-lead"]["required"] is True
    assert roles["security-lead"]["person"] is None
    assert {"incident-commander", "technical-lead", "communications-lead"} <= set(roles)
    assert [p["key"] for p in incident["phases"]] == P0_PHASES + SECURITY_PHASES
    got = windows(incident)
    assert got["security-containment"] == (t0, t0 + timedelta(minutes=30))
    assert got["security-investigation"] == (
        t0 + timedelta(minutes=30),
        t0 + timedelta(hours=24),
    )
    assert got["security-recovery-notification"] == (
        t0 + timedelta(hours=24),
        t0 + timedelta(hours=72),
    )
    containment = {t["key"] for t in phase(incident, "security-containment")["tasks"]}
    assert {"isolate-systems", "snapshot-systems", "preserve-network-logs"} <= containment


def test_security_p1_runs_only_the_security_track(api: Api, clock: FakeClock) -> None:
    t0 = clock.now()
    incident = declare(api, severity="P1", type="security")
    assert [p["key"] for p in incident["phases"]] == SECURITY_PHASES
    assert windows(incident)["security-containment"] == (t0, t0 + timedelta(minutes=30))


def test_operational_incident_does_not_list_the_security_lead(api: Api) -> None:
    incident = declare(api)
    assert "security-lead" not in {r["key"] for r in incident["roles"]}


# --- list ---------------------------------------------------------------------------------


@pytest.fixture
def population(api: Api, clock: FakeClock) -> dict[str, int]:
    """Five incidents, one minute apart, in different states."""
    ids = {}
    for name, severity, type_, summary in [
        ("Checkout down", "P0", "operational", "payments provider timeout"),
        ("Search slow", "P1", "operational", "elastic heap pressure"),
        ("Leaked API key", "P0", "security", "key found in a public gist"),
        ("Disk almost full", "P2", "operational", "logs volume at 85%"),
        ("Typo on pricing page", "P3", "operational", ""),
    ]:
        ids[name] = declare(api, title=name, severity=severity, type=type_, summary=summary)["id"]
        clock.advance(timedelta(minutes=1))
    assert act(api, ids["Search slow"], "acknowledge").status_code == 200
    assert act(api, ids["Disk almost full"], "resolve").status_code == 200
    return ids


def list_titles(api: Api, **params: Any) -> tuple[list[str], dict[str, Any]]:
    response = api.client.get(INCIDENTS, headers=api.viewer, params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    return [i["title"] for i in page["items"]], page


def test_list_is_newest_first_with_total(api: Api, population: dict[str, int]) -> None:
    titles, page = list_titles(api)
    assert titles == [
        "Typo on pricing page",
        "Disk almost full",
        "Leaked API key",
        "Search slow",
        "Checkout down",
    ]
    assert page["total"] == 5
    assert page["limit"] == 50
    assert page["offset"] == 0


def test_list_filters(api: Api, population: dict[str, int]) -> None:
    titles, page = list_titles(api, status="triggered")
    assert set(titles) == {"Checkout down", "Leaked API key", "Typo on pricing page"}
    assert page["total"] == 3
    titles, _ = list_titles(api, status=["acknowledged", "resolved"])
    assert set(titles) == {"Search slow", "Disk almost full"}
    titles, page = list_titles(api, severity="P0")
    assert set(titles) == {"Checkout down", "Leaked API key"}
    assert page["total"] == 2
    titles, _ = list_titles(api, severity=["P2", "P3"])
    assert set(titles) == {"Disk almost full", "Typo on pricing page"}
    titles, _ = list_titles(api, type="security")
    assert titles == ["Leaked API key"]
    titles, _ = list_titles(api, q="SLOW")  # case-insensitive, title
    assert titles == ["Search slow"]
    titles, _ = list_titles(api, q="gist")  # summary
    assert titles == ["Leaked API key"]
    titles, page = list_titles(api, severity="P0", type="operational")
    assert titles == ["Checkout down"]
    assert page["total"] == 1
    titles, page = list_titles(api, q="no such words")
    assert titles == []
    assert page["total"] == 0


def test_list_pagination(api: Api, population: dict[str, int]) -> None:
    everything, _ = list_titles(api)
    first, page = list_titles(api, limit=2, offset=0)
    assert first == everything[:2]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 0)
    second, page = list_titles(api, limit=2, offset=2)
    assert second == everything[2:4]
    assert page["total"] == 5
    last, page = list_titles(api, limit=2, offset=4)
    assert last == everything[4:]
    beyond, page = list_titles(api, limit=2, offset=10)
    assert beyond == []
    assert page["total"] == 5
    filtered, page = list_titles(api, status="triggered", limit=1, offset=1)
    assert filtered == ["Leaked API key"]
    assert page["total"] == 3


def test_list_text_search_treats_wildcards_literally(api: Api) -> None:
    for title in ("disk_full on db1", "disk full on db2", "CPU at 100%", "CPU at 1000 rpm"):
        declare(api, title=title)
    titles, page = list_titles(api, q="disk_full")
    assert titles == ["disk_full on db1"]
    assert page["total"] == 1
    titles, _ = list_titles(api, q="100%")
    assert titles == ["CPU at 100%"]
    titles, _ = list_titles(api, q="%")
    assert titles == ["CPU at 100%"]


# --- lifecycle ----------------------------------------------------------------------------


def test_full_lifecycle(api: Api, clock: FakeClock) -> None:
    incident = declare(api)
    iid = incident["id"]
    steps = [
        ("acknowledge", "acknowledged", "acknowledged_at"),
        ("mitigate", "mitigated", "mitigated_at"),
        ("resolve", "resolved", "resolved_at"),
        ("close", "closed", "closed_at"),
    ]
    for action, status, stamp in steps:
        clock.advance(timedelta(minutes=5))
        response = act(api, iid, action)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == status
        assert ts(body[stamp]) == clock.now()
    assert get(api, iid)["allowed_actions"] == ["reopen"]
    clock.advance(timedelta(minutes=5))
    response = act(api, iid, "reopen", note="it came back")
    assert response.status_code == 200, response.text
    reopened = response.json()
    assert reopened["status"] == "triggered"
    assert reopened["resolved_at"] is None
    assert reopened["closed_at"] is None
    assert reopened["mitigated_at"] is None
    entries = timeline(api, iid)
    transitions = [e for e in entries if e["kind"] not in ("declared", "phases_planned")]
    assert [(e["kind"], e["data"]["from"], e["data"]["to"]) for e in transitions] == [
        ("acknowledged", "triggered", "acknowledged"),
        ("mitigated", "acknowledged", "mitigated"),
        ("resolved", "mitigated", "resolved"),
        ("closed", "resolved", "closed"),
        ("reopened", "closed", "triggered"),
    ]
    assert transitions[-1]["data"]["note"] == "it came back"


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ([], "close"),
        ([], "reopen"),
        (["acknowledge"], "acknowledge"),
        (["mitigate"], "acknowledge"),
        (["resolve"], "acknowledge"),
        (["resolve"], "mitigate"),
        (["resolve"], "resolve"),
        (["resolve", "close"], "close"),
        (["resolve", "close"], "resolve"),
        (["resolve", "close"], "acknowledge"),
    ],
)
def test_illegal_transition_is_409_and_changes_nothing(
    api: Api, path: list[str], action: str
) -> None:
    iid = declare(api)["id"]
    for step in path:
        assert act(api, iid, step).status_code == 200
    before = get(api, iid)
    entries_before = timeline(api, iid)
    response = act(api, iid, action)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert action in error["message"]
    assert error["details"]["status"] == before["status"]
    assert get(api, iid) == before
    assert timeline(api, iid) == entries_before


def test_resolve_plans_the_post_incident_phases(api: Api, clock: FakeClock) -> None:
    iid = declare(api, severity="P1")["id"]
    clock.advance(timedelta(hours=2))
    resolved_at = clock.now()
    response = act(api, iid, "resolve")
    assert response.status_code == 200, response.text
    incident = response.json()
    keys = [p["key"] for p in incident["phases"]]
    assert keys == P1_PHASES + POST_INCIDENT_PHASES
    got = windows(incident)
    assert got["immediate"] == (resolved_at, resolved_at + timedelta(hours=24))
    assert got["short-term"] == (resolved_at + timedelta(days=1), resolved_at + timedelta(days=7))
    assert got["long-term"] == (
        resolved_at + timedelta(weeks=1),
        resolved_at + timedelta(weeks=4),
    )
    for key in POST_INCIDENT_PHASES:
        assert phase(incident, key)["stage"] == "post_incident"
        assert phase(incident, key)["tasks"]
    assert "post-mortem" in {t["key"] for t in phase(incident, "short-term")["tasks"]}
    assert kinds(api, iid)[-2:] == ["resolved", "phases_planned"]


def test_resolving_again_after_reopen_does_not_duplicate_post_incident_phases(
    api: Api, clock: FakeClock
) -> None:
    iid = declare(api, severity="P1")["id"]
    assert act(api, iid, "resolve").status_code == 200
    assert act(api, iid, "reopen").status_code == 200
    clock.advance(timedelta(hours=1))
    response = act(api, iid, "resolve")
    assert response.status_code == 200, response.text
    keys = [p["key"] for p in response.json()["phases"]]
    assert sorted(keys) == sorted(set(keys))
    assert set(POST_INCIDENT_PHASES) <= set(keys)


# --- PATCH --------------------------------------------------------------------------------


def test_raising_p1_to_p0_replans_from_the_change_time(api: Api, clock: FakeClock) -> None:
    declared_at = clock.now()
    incident = declare(api, severity="P1", title="Partial outage")
    iid = incident["id"]
    assert [p["key"] for p in incident["phases"]] == P1_PHASES
    clock.advance(timedelta(minutes=10))
    changed_at = clock.now()
    response = api.client.patch(
        f"{INCIDENTS}/{iid}",
        headers=api.responder,
        json={"severity": "P0", "reason": "now a full outage"},
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["severity"] == "P0"
    assert [p["key"] for p in patched["phases"]] == P0_PHASES
    assert windows(patched) == {
        "p0-immediate-response": (changed_at, changed_at + timedelta(minutes=15)),
        "p0-assessment": (
            changed_at + timedelta(minutes=15),
            changed_at + timedelta(minutes=30),
        ),
        "p0-recovery": (changed_at + timedelta(minutes=30), None),
    }
    assert ts(patched["created_at"]) == declared_at
    assert get(api, iid) == patched

    entries = timeline(api, iid)
    assert [e["kind"] for e in entries] == [
        "declared",
        "phases_planned",
        "updated",
        "phases_replanned",
    ]
    updated, replanned = entries[2], entries[3]
    assert updated["data"]["changes"] == {"severity": {"from": "P1", "to": "P0"}}
    assert updated["data"]["reason"] == "now a full outage"
    assert ts(updated["at"]) == changed_at
    assert updated["actor"] == "token:responder-token"
    assert sorted(replanned["data"]["dropped"]) == sorted(P1_PHASES)
    assert replanned["data"]["kept"] == []
    assert [p["key"] for p in replanned["data"]["phases"]] == P0_PHASES
    assert ts(replanned["at"]) == changed_at


def test_retired_phase_tasks_cannot_be_completed(api: Api) -> None:
    incident = declare(api, severity="P1")
    iid = incident["id"]
    old_task = phase(incident, "p1-assessment")["tasks"][0]["id"]
    response = api.client.patch(
        f"{INCIDENTS}/{iid}", headers=api.responder, json={"severity": "P0"}
    )
    assert response.status_code == 200, response.text
    response = api.client.post(
        f"{INCIDENTS}/{iid}/tasks/{old_task}/complete", headers=api.responder
    )
    assert response.status_code == 404, response.text
    tasks = api.client.get(f"{INCIDENTS}/{iid}/tasks", headers=api.viewer).json()
    assert old_task not in {t["id"] for t in tasks}
    assert {t["key"] for t in tasks} >= {"detect-monitoring", "database-failover"}


def test_changing_type_to_security_adds_the_security_track(api: Api, clock: FakeClock) -> None:
    t0 = clock.now()
    iid = declare(api, severity="P0")["id"]
    clock.advance(timedelta(minutes=3))
    response = api.client.patch(
        f"{INCIDENTS}/{iid}", headers=api.responder, json={"type": "security"}
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert [p["key"] for p in patched["phases"]] == P0_PHASES + SECURITY_PHASES
    got = windows(patched)
    assert got["p0-immediate-response"][0] == t0  # kept with its clock
    assert got["security-containment"] == (clock.now(), clock.now() + timedelta(minutes=30))
    assert "security-lead" in {r["key"] for r in patched["roles"] if r["required"]}


def test_lowering_a_security_p0_keeps_the_security_clocks(api: Api, clock: FakeClock) -> None:
    t0 = clock.now()
    iid = declare(api, severity="P0", type="security")["id"]
    clock.advance(timedelta(minutes=40))
    response = api.client.patch(
        f"{INCIDENTS}/{iid}", headers=api.responder, json={"severity": "P1"}
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert [p["key"] for p in patched["phases"]] == SECURITY_PHASES
    assert windows(patched)["security-containment"] == (t0, t0 + timedelta(minutes=30))
    replanned = timeline(api, iid)[-1]
    assert replanned["kind"] == "phases_replanned"
    assert replanned["data"]["kept"] == SECURITY_PHASES
    assert sorted(replanned["data"]["dropped"]) == sorted(P0_PHASES)
    assert replanned["data"]["phases"] == []


def test_patch_title_without_real_change_records_nothing(api: Api) -> None:
    iid = declare(api)["id"]
    before = timeline(api, iid)
    response = api.client.patch(
        f"{INCIDENTS}/{iid}", headers=api.responder, json={"title": "Checkout down"}
    )
    assert response.status_code == 200, response.text
    assert timeline(api, iid) == before
    response = api.client.patch(
        f"{INCIDENTS}/{iid}", headers=api.responder, json={"title": "Checkout fully down"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Checkout fully down"
    assert kinds(api, iid) == ["declared", "phases_planned", "updated"]


def test_patch_with_unknown_severity_changes_nothing(api: Api) -> None:
    iid = declare(api, severity="P1")["id"]
    before = get(api, iid)
    response = api.client.patch(
        f"{INCIDENTS}/{iid}", headers=api.responder, json={"severity": "P7"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == "severity"
    assert get(api, iid) == before
    assert kinds(api, iid) == ["declared", "phases_planned"]


# --- roles --------------------------------------------------------------------------------


def test_assign_replace_and_unassign_a_role(api: Api, clock: FakeClock) -> None:
    iid = declare(api)["id"]
    ada = add_person(api, "Ada Lovelace", "ada@example.com")
    bob = add_person(api, "Bob Builder", "bob@example.com")
    url = f"{INCIDENTS}/{iid}/roles/incident-commander"

    clock.advance(timedelta(minutes=1))
    response = api.client.put(url, headers=api.responder, json={"person_id": ada})
    assert response.status_code == 200, response.text
    commander = next(r for r in response.json()["roles"] if r["key"] == "incident-commander")
    assert commander["person"] == {"id": ada, "name": "Ada Lovelace"}
    assert ts(commander["assigned_at"]) == clock.now()

    clock.advance(timedelta(minutes=1))
    response = api.client.put(url, headers=api.responder, json={"person_id": bob})
    assert response.status_code == 200, response.text
    commander = next(r for r in response.json()["roles"] if r["key"] == "incident-commander")
    assert commander["person"] == {"id": bob, "name": "Bob Builder"}
    assert ts(commander["assigned_at"]) == clock.now()

    # an extended-team role shows up once held
    response = api.client.put(
        f"{INCIDENTS}/{iid}/roles/database-administrator",
        headers=api.responder,
        json={"person_id": ada},
    )
    assert response.status_code == 200, response.text
    dba = next(r for r in response.json()["roles"] if r["key"] == "database-administrator")
    assert dba["required"] is False
    assert dba["team"] == "extended"
    assert dba["person"]["id"] == ada

    response = api.client.delete(url, headers=api.responder)
    assert response.status_code == 200, response.text
    commander = next(r for r in response.json()["roles"] if r["key"] == "incident-commander")
    assert commander["person"] is None
    assert commander["assigned_at"] is None

    entries = [e for e in timeline(api, iid) if e["kind"].startswith("role_")]
    assert [e["kind"] for e in entries] == [
        "role_assigned",
        "role_assigned",
        "role_assigned",
        "role_unassigned",
    ]
    assert entries[0]["data"]["person_id"] == ada
    assert entries[1]["data"]["person_id"] == bob
    assert entries[1]["data"]["replaced_person_id"] == ada
    assert entries[3]["data"] == {"role": "incident-commander", "person_id": bob}

    response = api.client.delete(url, headers=api.responder)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["details"]["field"] == "role"


def test_assigning_the_same_person_twice_records_once(api: Api) -> None:
    iid = declare(api)["id"]
    ada = add_person(api, "Ada")
    url = f"{INCIDENTS}/{iid}/roles/technical-lead"
    for _ in range(2):
        response = api.client.put(url, headers=api.responder, json={"person_id": ada})
        assert response.status_code == 200, response.text
    assert kinds(api, iid).count("role_assigned") == 1


def test_unknown_role_is_404_naming_role(api: Api) -> None:
    iid = declare(api)["id"]
    ada = add_person(api, "Ada")
    before = timeline(api, iid)
    response = api.client.put(
        f"{INCIDENTS}/{iid}/roles/chief-vibes-officer",
        headers=api.responder,
        json={"person_id": ada},
    )
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["details"]["field"] == "role"
    assert "chief-vibes-officer" in error["message"]
    assert timeline(api, iid) == before


def test_unknown_person_is_404(api: Api) -> None:
    iid = declare(api)["id"]
    before = get(api, iid)
    response = api.client.put(
        f"{INCIDENTS}/{iid}/roles/incident-commander",
        headers=api.responder,
        json={"person_id": 4242},
    )
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["details"]["field"] == "person_id"
    assert get(api, iid) == before


def test_role_on_unknown_incident_is_404(api: Api) -> None:
    ada = add_person(api, "Ada")
    response = api.client.put(
        f"{INCIDENTS}/999999/roles/incident-commander",
        headers=api.responder,
        json={"person_id": ada},
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["details"]["field"] == "incident_id"


# --- tasks --------------------------------------------------------------------------------


def task_url(iid: int, ref: str | int, verb: str) -> str:
    return f"{INCIDENTS}/{iid}/tasks/{ref}/{verb}"


def find_task(incident: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for p in incident["phases"] for t in p["tasks"] if t["key"] == key)


def test_complete_tasks_by_id_key_and_phase_slash_key(api: Api, clock: FakeClock) -> None:
    incident = declare(api)
    iid = incident["id"]
    by_id = find_task(incident, "detect-monitoring")["id"]

    clock.advance(timedelta(minutes=2))
    response = api.client.post(task_url(iid, by_id, "complete"), headers=api.responder)
    assert response.status_code == 200, response.text
    task = response.json()
    assert (task["id"], task["key"], task["status"]) == (by_id, "detect-monitoring", "done")
    assert ts(task["done_at"]) == clock.now()
    assert task["done_by"] == "token:responder-token"

    response = api.client.post(task_url(iid, "page-oncall", "complete"), headers=api.responder)
    assert response.status_code == 200, response.text
    assert response.json()["key"] == "page-oncall"

    response = api.client.post(
        task_url(iid, "p0-assessment/check-database", "complete"), headers=api.responder
    )
    assert response.status_code == 200, response.text
    assert response.json()["key"] == "check-database"
    assert response.json()["runbook"] == "check-database-connectivity"

    after = get(api, iid)
    done = {t["key"] for p in after["phases"] for t in p["tasks"] if t["status"] == "done"}
    assert done == {"detect-monitoring", "page-oncall", "check-database"}
    completed = [e for e in timeline(api, iid) if e["kind"] == "task_completed"]
    assert [e["data"]["task"] for e in completed] == [
        "detect-monitoring",
        "page-oncall",
        "check-database",
    ]
    assert completed[2]["data"]["phase"] == "p0-assessment"


def test_completing_every_task_of_a_phase_marks_it_done(api: Api) -> None:
    incident = declare(api, severity="P1")
    iid = incident["id"]
    for t in phase(incident, "p1-assessment")["tasks"]:
        response = api.client.post(
            task_url(iid, f"p1-assessment/{t['key']}", "complete"), headers=api.responder
        )
        assert response.status_code == 200, response.text
    after = get(api, iid)
    assert phase(after, "p1-assessment")["state"] == "done"
    assert after["current_phase"] != "p1-assessment"


def test_skip_needs_a_reason(api: Api) -> None:
    iid = declare(api)["id"]
    url = task_url(iid, "detect-customers", "skip")
    before = timeline(api, iid)
    for kwargs in (
        {},
        {"json": {}},
        {"json": {"reason": ""}},
        {"json": {"reason": "   "}},
    ):
        response = api.client.post(url, headers=api.responder, **kwargs)
        assert response.status_code == 422, (kwargs, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["details"]["field"] == "reason", (kwargs, error)
    assert timeline(api, iid) == before
    assert find_task(get(api, iid), "detect-customers")["status"] == "open"

    response = api.client.post(url, headers=api.responder, json={"reason": "no customers yet"})
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "skipped"
    assert task["skip_reason"] == "no customers yet"
    entry = timeline(api, iid)[-1]
    assert entry["kind"] == "task_skipped"
    assert entry["data"]["reason"] == "no customers yet"


def test_completing_twice_is_409_and_reopen_works(api: Api) -> None:
    iid = declare(api)["id"]
    url = task_url(iid, "page-oncall", "complete")
    assert api.client.post(url, headers=api.responder).status_code == 200
    before = timeline(api, iid)
    response = api.client.post(url, headers=api.responder)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "conflict"
    assert timeline(api, iid) == before

    response = api.client.post(task_url(iid, "page-oncall", "reopen"), headers=api.responder)
    assert response.status_code == 200, response.text
    reopened = response.json()
    assert reopened["status"] == "open"
    assert reopened["done_at"] is None
    assert reopened["done_by"] is None
    assert api.client.post(url, headers=api.responder).status_code == 200


@pytest.mark.parametrize("ref", ["no-such-task", "p0-assessment/detect-monitoring", "987654"])
def test_unknown_task_is_404(api: Api, ref: str) -> None:
    iid = declare(api)["id"]
    before = timeline(api, iid)
    response = api.client.post(task_url(iid, ref, "complete"), headers=api.responder)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["details"]["field"] == "task"
    assert timeline(api, iid) == before


def test_task_of_another_incident_is_404(api: Api) -> None:
    first = declare(api, title="one")
    second = declare(api, title="two")
    foreign = find_task(first, "page-oncall")["id"]
    response = api.client.post(task_url(second["id"], foreign, "complete"), headers=api.responder)
    assert response.status_code == 404, response.text
    assert find_task(get(api, first["id"]), "page-oncall")["status"] == "open"


# --- notes and the timeline ---------------------------------------------------------------


def test_notes(api: Api, clock: FakeClock) -> None:
    iid = declare(api)["id"]
    clock.advance(timedelta(minutes=4))
    response = api.client.post(
        f"{INCIDENTS}/{iid}/notes", headers=api.responder, json={"text": "  rolled back v42  "}
    )
    assert response.status_code == 201, response.text
    note = response.json()
    assert note["kind"] == "note"
    assert note["data"] == {"text": "rolled back v42"}
    assert note["actor"] == "token:responder-token"
    assert ts(note["at"]) == clock.now()
    assert note["seq"] == 3
    assert timeline(api, iid)[-1] == note

    for body in ({"text": ""}, {"text": "   "}, {}):
        response = api.client.post(f"{INCIDENTS}/{iid}/notes", headers=api.responder, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["details"]["field"] == "text"
    assert len(timeline(api, iid)) == 3


def test_timeline_records_every_step_with_actor_and_time(api: Api, clock: FakeClock) -> None:
    responder = "token:responder-token"
    expected: list[tuple[str, str, datetime]] = []

    incident = declare(api, severity="P1")
    iid = incident["id"]
    expected += [("declared", responder, clock.now()), ("phases_planned", "warroom", clock.now())]

    def step(kind: str, response: Any, actor: str = responder) -> None:
        assert response.status_code in (200, 201), response.text
        expected.append((kind, actor, clock.now()))

    clock.advance(timedelta(minutes=1))
    step("acknowledged", act(api, iid, "acknowledge"))
    clock.advance(timedelta(minutes=1))
    ada = add_person(api, "Ada")
    step(
        "role_assigned",
        api.client.put(
            f"{INCIDENTS}/{iid}/roles/incident-commander",
            headers=api.responder,
            json={"person_id": ada},
        ),
    )
    clock.advance(timedelta(minutes=1))
    step(
        "task_completed",
        api.client.post(task_url(iid, "identify-components", "complete"), headers=api.responder),
    )
    clock.advance(timedelta(minutes=1))
    step(
        "task_skipped",
        api.client.post(
            task_url(iid, "determine-urgency", "skip"),
            headers=api.responder,
            json={"reason": "obvious"},
        ),
    )
    clock.advance(timedelta(minutes=1))
    step(
        "note",
        api.client.post(f"{INCIDENTS}/{iid}/notes", headers=api.responder, json={"text": "hi"}),
    )
    clock.advance(timedelta(minutes=1))
    response = api.client.patch(
        f"{INCIDENTS}/{iid}", headers=api.responder, json={"severity": "P0"}
    )
    step("updated", response)
    expected.append(("phases_replanned", responder, clock.now()))
    clock.advance(timedelta(minutes=1))
    step("mitigated", act(api, iid, "mitigate"))
    clock.advance(timedelta(minutes=1))
    step("resolved", act(api, iid, "resolve"))
    expected.append(("phases_planned", "warroom", clock.now()))
    clock.advance(timedelta(minutes=1))
    step("closed", act(api, iid, "close"), actor="token:commander-token")

    entries = timeline(api, iid)
    assert [(e["kind"], e["actor"], ts(e["at"])) for e in entries] == expected
    assert [e["seq"] for e in entries] == list(range(1, len(expected) + 1))
    assert len({e["hash"] for e in entries}) == len(entries)
    assert all(len(e["hash"]) == 64 for e in entries)
    assert get(api, iid)["revision"] == len(entries)

    response = api.client.get(f"{INCIDENTS}/{iid}/timeline/verify", headers=api.viewer)
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["ok"] is True
    assert verdict["checked"] == len(entries)
    assert verdict["first_bad_seq"] is None


def test_timeline_of_unknown_incident_is_404(api: Api) -> None:
    for suffix in ("timeline", "timeline/verify", "tasks"):
        response = api.client.get(f"{INCIDENTS}/424242/{suffix}", headers=api.viewer)
        assert response.status_code == 404, (suffix, response.text)
        assert response.json()["error"]["code"] == "not_found"


# --- Idempotency-Key ----------------------------------------------------------------------


def test_idempotency_key_replays_the_first_result(api: Api, clock: FakeClock) -> None:
    body = {"title": "Checkout down", "severity": "P0", "summary": "x"}
    headers = {**api.responder, "Idempotency-Key": "alert-123"}
    first = api.client.post(INCIDENTS, headers=headers, json=body)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    clock.advance(timedelta(minutes=1))
    second = api.client.post(INCIDENTS, headers=headers, json=body)
    assert second.status_code == 200, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["created_at"] == first.json()["created_at"]
    assert count_incidents(api) == 1
    assert kinds(api, first.json()["id"]) == ["declared", "phases_planned"]


def test_idempotency_key_with_a_different_body_is_409(api: Api) -> None:
    headers = {**api.responder, "Idempotency-Key": "alert-124"}
    first = api.client.post(INCIDENTS, headers=headers, json={"title": "A", "severity": "P1"})
    assert first.status_code == 201, first.text
    second = api.client.post(INCIDENTS, headers=headers, json={"title": "A", "severity": "P0"})
    assert second.status_code == 409, second.text
    error = second.json()["error"]
    assert error["code"] == "conflict"
    assert error["details"]["field"] == "Idempotency-Key"
    assert count_incidents(api) == 1
    assert get(api, first.json()["id"])["severity"] == "P1"


def test_different_idempotency_keys_declare_different_incidents(api: Api) -> None:
    body = {"title": "A", "severity": "P1"}
    one = api.client.post(INCIDENTS, headers={**api.responder, "Idempotency-Key": "k1"}, json=body)
    two = api.client.post(INCIDENTS, headers={**api.responder, "Idempotency-Key": "k2"}, json=body)
    plain = api.client.post(INCIDENTS, headers=api.responder, json=body)
    assert [r.status_code for r in (one, two, plain)] == [201, 201, 201]
    assert len({r.json()["id"] for r in (one, two, plain)}) == 3
    assert count_incidents(api) == 3


def test_concurrent_requests_with_one_idempotency_key_declare_once(api: Api) -> None:
    workers = 6
    barrier = threading.Barrier(workers)
    headers = {**api.responder, "Idempotency-Key": "storm-1"}
    body = {"title": "Alert storm", "severity": "P1"}

    def post(_: int) -> tuple[int, int]:
        barrier.wait(timeout=30)
        response = api.client.post(INCIDENTS, headers=headers, json=body)
        return response.status_code, response.json().get("id", -1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(post, range(workers)))
    codes = sorted(code for code, _ in results)
    assert codes == [200] * (workers - 1) + [201], results
    assert len({iid for _, iid in results}) == 1, results
    assert count_incidents(api) == 1


# --- concurrency --------------------------------------------------------------------------


def _acknowledge_concurrently(
    api: Api, iid: int, workers: int, per_thread_client: bool
) -> list[int]:
    barrier = threading.Barrier(workers)
    app = api.client.app

    def ack(_: int) -> int:
        if per_thread_client:
            with TestClient(app) as client:
                barrier.wait(timeout=30)
                return client.post(
                    f"{INCIDENTS}/{iid}/acknowledge", headers=api.responder
                ).status_code
        barrier.wait(timeout=30)
        return act(api, iid, "acknowledge").status_code

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(ack, range(workers)))


@pytest.mark.parametrize("per_thread_client", [False, True], ids=["shared", "per-thread"])
def test_concurrent_acknowledgements_record_exactly_one(api: Api, per_thread_client: bool) -> None:
    iid = declare(api)["id"]
    workers = 8
    codes = _acknowledge_concurrently(api, iid, workers, per_thread_client)
    assert sorted(codes) == [200] + [409] * (workers - 1), codes
    assert kinds(api, iid).count("acknowledged") == 1
    assert get(api, iid)["status"] == "acknowledged"
    verdict = api.client.get(f"{INCIDENTS}/{iid}/timeline/verify", headers=api.viewer).json()
    assert verdict["ok"] is True, verdict


def test_concurrent_notes_keep_the_chain_intact(api: Api) -> None:
    iid = declare(api)["id"]
    workers = 8
    barrier = threading.Barrier(workers)

    def note(n: int) -> int:
        barrier.wait(timeout=30)
        return api.client.post(
            f"{INCIDENTS}/{iid}/notes", headers=api.responder, json={"text": f"note {n}"}
        ).status_code

    with ThreadPoolExecutor(max_workers=workers) as pool:
        codes = list(pool.map(note, range(workers)))
    assert codes == [201] * workers
    entries = timeline(api, iid)
    assert [e["seq"] for e in entries] == list(range(1, workers + 3))
    assert sorted(e["data"]["text"] for e in entries if e["kind"] == "note") == sorted(
        f"note {n}" for n in range(workers)
    )
    verdict = api.client.get(f"{INCIDENTS}/{iid}/timeline/verify", headers=api.viewer).json()
    assert verdict == {"ok": True, "checked": workers + 2, "first_bad_seq": None, "problem": ""}


def test_concurrent_declarations_all_succeed(api: Api) -> None:
    workers = 8
    barrier = threading.Barrier(workers)

    def post(n: int) -> tuple[int, int]:
        barrier.wait(timeout=30)
        response = api.client.post(
            INCIDENTS, headers=api.responder, json={"title": f"storm {n}", "severity": "P2"}
        )
        return response.status_code, response.json().get("id", -1)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(post, range(workers)))
    assert [code for code, _ in results] == [201] * workers, results
    assert len({iid for _, iid in results}) == workers
    assert count_incidents(api) == workers
