"""One policy for pages and API: for each role, what it may not do is refused on both,
with a 403 and nothing changed; what it may do works on both."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.web_session import sign_in
from warroom.runtime import Runtime

HTML = {"Accept": "text/html"}


def declare(api: Api, **extra: Any) -> int:
    body = {"title": "Disk full", "severity": "P2"} | extra
    response = api.client.post("/api/v1/incidents", headers=api.admin, json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def resolved(api: Api, **extra: Any) -> int:
    incident = declare(api, **extra)
    response = api.client.post(f"/api/v1/incidents/{incident}/resolve", headers=api.admin)
    assert response.status_code == 200, response.text
    return incident


def revision(api: Api, incident: int) -> int:
    read = api.client.get(f"/api/v1/incidents/{incident}", headers=api.admin).json()
    return int(read["revision"])


def page_act(api: Api, csrf: str, incident: int, action: str) -> int:
    data = {"csrf": csrf, "action": action}
    response = api.client.post(f"/incidents/{incident}/act", data=data, headers=HTML)
    return response.status_code


def api_act(api: Api, headers: dict[str, str], incident: int, action: str) -> int:
    return api.client.post(f"/api/v1/incidents/{incident}/{action}", headers=headers).status_code


def test_a_viewer_reads_but_changes_nothing(api: Api, runtime: Runtime) -> None:
    incident = declare(api)
    csrf = sign_in(api.client, runtime, role="viewer")
    room = api.client.get(f"/incidents/{incident}")
    assert room.status_code == 200
    assert 'value="acknowledge"' not in room.text
    assert "Add a note" not in room.text
    assert page_act(api, csrf, incident, "acknowledge") == 403
    assert api_act(api, api.viewer, incident, "acknowledge") == 403
    note = api.client.post(f"/incidents/{incident}/note", data={"csrf": csrf, "text": "hi"})
    assert note.status_code == 403
    api_note = api.client.post(
        f"/api/v1/incidents/{incident}/notes", headers=api.viewer, json={"text": "hi"}
    )
    assert api_note.status_code == 403
    declared = api.client.post(
        "/incidents", data={"csrf": csrf, "title": "x", "severity": "P1"}, headers=HTML
    )
    assert declared.status_code == 403
    assert api.client.get("/incidents/new", headers=HTML).status_code == 403
    assert revision(api, incident) == 2  # declared and planned: nothing else happened
    total = api.client.get("/api/v1/incidents", headers=api.admin).json()["total"]
    assert total == 1


def test_a_responder_works_the_incident_but_cannot_close_or_reopen(
    api: Api, runtime: Runtime
) -> None:
    incident = resolved(api)
    csrf = sign_in(api.client, runtime, role="responder")
    room = api.client.get(f"/incidents/{incident}").text
    assert 'value="close"' not in room
    assert 'value="reopen"' not in room
    before = revision(api, incident)
    for action in ("close", "reopen"):
        assert page_act(api, csrf, incident, action) == 403
        assert api_act(api, api.responder, incident, action) == 403
    assert revision(api, incident) == before
    fresh = declare(api)
    assert page_act(api, csrf, fresh, "acknowledge") == 200
    assert api_act(api, api.responder, fresh, "mitigate") == 200


@pytest.mark.parametrize("role", ["commander", "security", "responder", "viewer"])
def test_only_admins_administer(api: Api, runtime: Runtime, role: str) -> None:
    csrf = sign_in(api.client, runtime, role=role)
    assert api.client.get("/admin", headers=HTML).status_code == 403
    assert 'href="/admin"' not in api.client.get("/").text
    body = {"name": "prometheus", "kind": "alertmanager"}
    headers = {"commander": api.commander, "security": api.security}
    headers |= {"responder": api.responder, "viewer": api.viewer}
    created = api.client.post("/api/v1/integrations", headers=headers[role], json=body)
    assert created.status_code == 403
    form = api.client.post("/admin/integrations", data=body | {"csrf": csrf}, headers=HTML)
    assert form.status_code == 403
    listed = api.client.get("/api/v1/integrations", headers=api.admin).json()
    assert listed == []


def test_a_commander_closes_and_reopens(api: Api, runtime: Runtime) -> None:
    first, second = resolved(api), resolved(api)
    csrf = sign_in(api.client, runtime, role="commander")
    assert page_act(api, csrf, first, "close") == 200
    assert api_act(api, api.commander, second, "close") == 200
    assert page_act(api, csrf, first, "reopen") == 200
    status = api.client.get(f"/api/v1/incidents/{first}", headers=api.viewer).json()["status"]
    assert status == "triggered"


def test_security_commands_security_incidents_only(api: Api, runtime: Runtime) -> None:
    operational = resolved(api)
    breach = resolved(api, type="security", severity="P0")
    other = resolved(api, type="security", severity="P0")
    csrf = sign_in(api.client, runtime, role="security")
    before = revision(api, operational)
    assert page_act(api, csrf, operational, "close") == 403
    assert api_act(api, api.security, operational, "close") == 403
    assert revision(api, operational) == before
    assert 'value="close"' in api.client.get(f"/incidents/{breach}").text
    assert page_act(api, csrf, breach, "close") == 200
    assert api_act(api, api.security, other, "close") == 200


def test_an_admin_may_do_all_of_it(api: Api, runtime: Runtime) -> None:
    incident = resolved(api)
    csrf = sign_in(api.client, runtime, role="admin")
    assert page_act(api, csrf, incident, "close") == 200
    assert api_act(api, api.admin, incident, "reopen") == 200
    assert api.client.get("/admin", headers=HTML).status_code == 200


def test_security_cannot_reclassify_an_incident_to_command_it(api: Api, runtime: Runtime) -> None:
    incident = declare(api)
    csrf = sign_in(api.client, runtime, role="security")
    before = revision(api, incident)
    form = {"csrf": csrf, "severity": "P2", "type": "security", "revision": str(before)}
    page = api.client.post(f"/incidents/{incident}/edit", data=form, headers=HTML)
    assert page.status_code == 403
    body = {"type": "security"}
    refused = api.client.patch(f"/api/v1/incidents/{incident}", headers=api.security, json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["field"] == "type"
    assert revision(api, incident) == before
    # a responder may reclassify (it gains nothing by it), and so may a commander
    done = api.client.patch(f"/api/v1/incidents/{incident}", headers=api.responder, json=body)
    assert done.status_code == 200
    assert done.json()["type"] == "security"
