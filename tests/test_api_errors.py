"""Bad requests over HTTP on both backends: auth, roles, 4xx bodies naming the field with
nothing written, health and OpenAPI, and the playbook's severity suggestion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api

INCIDENTS = "/api/v1/incidents"


def declare(api: Api, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Checkout down", "severity": "P1", **fields}
    response = api.client.post(INCIDENTS, headers=api.responder, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def lenient(api: Api) -> Iterator[TestClient]:
    """A client on the same app that returns a 500 response instead of raising the error,
    so a test can assert on the status a real caller would see."""
    with TestClient(api.client.app, raise_server_exceptions=False) as client:
        yield client


def count_incidents(api: Api) -> int:
    response = api.client.get(INCIDENTS, headers=api.viewer)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def assert_error_body(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert "Traceback" not in response.text
    return error


# --- authentication and roles -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", INCIDENTS),
        ("POST", INCIDENTS),
        ("GET", f"{INCIDENTS}/1"),
        ("GET", "/api/v1/people"),
        ("GET", "/api/v1/playbook"),
    ],
)
def test_no_token_is_401_with_www_authenticate(api: Api, method: str, path: str) -> None:
    response = api.client.request(method, path, json={"title": "x", "severity": "P1"})
    error = assert_error_body(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "token" in error["message"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer wr_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "wr_no_scheme"],
)
def test_bad_token_is_401(api: Api, authorization: str) -> None:
    response = api.client.post(
        INCIDENTS,
        headers={"Authorization": authorization},
        json={"title": "x", "severity": "P1"},
    )
    assert_error_body(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert count_incidents(api) == 0


def test_viewer_can_read_but_not_write(api: Api) -> None:
    incident = declare(api)
    iid = incident["id"]
    person = api.client.post("/api/v1/people", headers=api.responder, json={"name": "Ada"})
    assert person.status_code == 201, person.text

    reads = [
        INCIDENTS,
        f"{INCIDENTS}/{iid}",
        f"{INCIDENTS}/{iid}/timeline",
        f"{INCIDENTS}/{iid}/timeline/verify",
        f"{INCIDENTS}/{iid}/tasks",
        "/api/v1/people",
        "/api/v1/playbook",
    ]
    for path in reads:
        response = api.client.get(path, headers=api.viewer)
        assert response.status_code == 200, (path, response.text)

    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", INCIDENTS, {"title": "x", "severity": "P1"}),
        ("PATCH", f"{INCIDENTS}/{iid}", {"severity": "P0"}),
        ("POST", f"{INCIDENTS}/{iid}/acknowledge", None),
        ("POST", f"{INCIDENTS}/{iid}/resolve", None),
        ("PUT", f"{INCIDENTS}/{iid}/roles/incident-commander", {"person_id": person.json()["id"]}),
        ("POST", f"{INCIDENTS}/{iid}/tasks/identify-components/complete", None),
        ("POST", f"{INCIDENTS}/{iid}/notes", {"text": "hi"}),
        ("POST", "/api/v1/people", {"name": "Eve"}),
    ]
    for method, path, body in writes:
        response = api.client.request(method, path, headers=api.viewer, json=body)
        assert_error_body(response, 403, "forbidden")

    assert count_incidents(api) == 1
    after = api.client.get(f"{INCIDENTS}/{iid}", headers=api.viewer).json()
    assert after == incident
    timeline = api.client.get(f"{INCIDENTS}/{iid}/timeline", headers=api.viewer).json()
    assert [e["kind"] for e in timeline] == ["declared", "phases_planned"]
    people = api.client.get("/api/v1/people", headers=api.viewer).json()
    assert [p["name"] for p in people] == ["Ada"]


def test_admin_can_write(api: Api) -> None:
    response = api.client.post(INCIDENTS, headers=api.admin, json={"title": "x", "severity": "P3"})
    assert response.status_code == 201, response.text
    assert response.json()["created_by"] == "token:admin-token"


# --- 422 bodies name the field, and nothing is written ------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"severity": "P1"}, "title"),
        ({"title": "", "severity": "P1"}, "title"),
        ({"title": "   ", "severity": "P1"}, "title"),
        ({"title": "x" * 301, "severity": "P1"}, "title"),
        ({"title": "Checkout down"}, "severity"),
        ({"title": "Checkout down", "severity": "P9"}, "severity"),
        ({"title": "Checkout down", "severity": ""}, "severity"),
        ({"title": "Checkout down", "severity": "P1", "type": "cosmic"}, "type"),
        ({"title": "Checkout down", "severity": "P1", "priority": "high"}, "priority"),
        ({"title": 42, "severity": "P1"}, "title"),
    ],
)
def test_bad_declare_names_the_field_and_writes_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    declare(api)
    response = api.client.post(INCIDENTS, headers=api.responder, json=body)
    error = assert_error_body(response, 422, "invalid_input")
    assert error["details"]["field"] == field, error
    assert field in error["message"]
    assert count_incidents(api) == 1


def test_unknown_severity_message_lists_the_known_ones(api: Api) -> None:
    response = api.client.post(
        INCIDENTS, headers=api.responder, json={"title": "x", "severity": "P9"}
    )
    error = assert_error_body(response, 422, "invalid_input")
    assert "P9" in error["message"]
    for known in ("P0", "P1", "P2", "P3"):
        assert known in error["message"]


def test_body_that_is_not_json_is_422(api: Api) -> None:
    response = api.client.post(
        INCIDENTS,
        headers={**api.responder, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert_error_body(response, 422, "invalid_input")
    assert count_incidents(api) == 0


def test_bad_idempotent_request_writes_nothing(api: Api) -> None:
    headers = {**api.responder, "Idempotency-Key": "k-bad"}
    response = api.client.post(INCIDENTS, headers=headers, json={"title": "x", "severity": "P9"})
    assert_error_body(response, 422, "invalid_input")
    # the key was not used up by the failed request
    response = api.client.post(INCIDENTS, headers=headers, json={"title": "x", "severity": "P1"})
    assert response.status_code == 201, response.text
    assert count_incidents(api) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"severity": "P9"}, "severity"),
        ({"type": "cosmic"}, "type"),
        ({"title": ""}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_patch_names_the_field_and_writes_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    incident = declare(api)
    iid = incident["id"]
    response = api.client.patch(f"{INCIDENTS}/{iid}", headers=api.responder, json=body)
    error = assert_error_body(response, 422, "invalid_input")
    assert error["details"]["field"] == field, error
    assert api.client.get(f"{INCIDENTS}/{iid}", headers=api.viewer).json() == incident


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "sleeping"}, "status[0]"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_list_query_names_the_parameter(api: Api, params: dict[str, Any], field: str) -> None:
    response = api.client.get(INCIDENTS, headers=api.viewer, params=params)
    error = assert_error_body(response, 422, "invalid_input")
    assert error["details"]["field"] == field, error


def test_bad_role_assignment_body_names_the_field(api: Api) -> None:
    iid = declare(api)["id"]
    url = f"{INCIDENTS}/{iid}/roles/incident-commander"
    for body in ({}, {"person_id": 0}, {"person_id": "ada"}):
        response = api.client.put(url, headers=api.responder, json=body)
        error = assert_error_body(response, 422, "invalid_input")
        assert error["details"]["field"] == "person_id", (body, error)


# --- not found ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{INCIDENTS}/999999", None),
        ("PATCH", f"{INCIDENTS}/999999", {"title": "x"}),
        ("POST", f"{INCIDENTS}/999999/acknowledge", None),
        ("POST", f"{INCIDENTS}/999999/notes", {"text": "hi"}),
        ("POST", f"{INCIDENTS}/999999/tasks/page-oncall/complete", None),
        ("DELETE", f"{INCIDENTS}/999999/roles/incident-commander", None),
    ],
)
def test_unknown_incident_is_404_json(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = api.client.request(method, path, headers=api.responder, json=body)
    error = assert_error_body(response, 404, "not_found")
    assert error["details"] == {"field": "incident_id"}
    assert "999999" in error["message"]


def test_non_numeric_incident_id_is_422(api: Api) -> None:
    response = api.client.get(f"{INCIDENTS}/abc", headers=api.viewer)
    error = assert_error_body(response, 422, "invalid_input")
    assert error["details"]["field"] == "incident_id"


TOO_BIG = [2**31, 2**63, 10**20]  # past PostgreSQL's integer, past SQLite's, past both


@pytest.mark.parametrize("number", TOO_BIG)
def test_out_of_range_incident_id_is_a_clean_4xx(
    api: Api, lenient: TestClient, number: int
) -> None:
    client = lenient
    for method, path in [
        ("GET", f"{INCIDENTS}/{number}"),
        ("POST", f"{INCIDENTS}/{number}/acknowledge"),
        ("GET", f"{INCIDENTS}/{number}/timeline"),
    ]:
        response = client.request(method, path, headers=api.responder)
        assert response.status_code in (404, 422), (method, path, response.text)
        assert response.json()["error"]["details"]["field"] == "incident_id"


@pytest.mark.parametrize("number", TOO_BIG)
def test_out_of_range_person_id_is_a_clean_4xx(api: Api, lenient: TestClient, number: int) -> None:
    iid = declare(api)["id"]
    client = lenient
    response = client.put(
        f"{INCIDENTS}/{iid}/roles/incident-commander",
        headers=api.responder,
        json={"person_id": number},
    )
    assert response.status_code in (404, 422), response.text
    assert response.json()["error"]["details"]["field"] == "person_id"
    response = client.get(f"/api/v1/people/{number}", headers=api.viewer)
    assert response.status_code in (404, 422), response.text


def test_out_of_range_offset_is_a_clean_answer(api: Api, lenient: TestClient) -> None:
    declare(api)
    response = lenient.get(INCIDENTS, headers=api.viewer, params={"offset": 2**63})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["items"] == []
    else:
        assert response.json()["error"]["details"]["field"] == "offset"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (INCIDENTS, {"title": "bad\u0000title", "severity": "P1"}, "title"),
        (INCIDENTS, {"title": "ok", "severity": "P1", "summary": "a\u0000b"}, "summary"),
        ("{iid}/notes", {"text": "nul\u0000note"}, "text"),
    ],
)
def test_nul_characters_are_rejected_naming_the_field(
    api: Api, lenient: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    """PostgreSQL cannot store NUL in text; both backends must refuse it the same way."""
    iid = declare(api)["id"]
    url = path.replace("{iid}", f"{INCIDENTS}/{iid}")
    response = lenient.post(url, headers=api.responder, json=body)
    error = assert_error_body(response, 422, "invalid_input")
    assert error["details"]["field"] == field
    assert count_incidents(api) == 1
    timeline = api.client.get(f"{INCIDENTS}/{iid}/timeline", headers=api.viewer).json()
    assert len(timeline) == 2


def test_unknown_person_is_404_json(api: Api) -> None:
    response = api.client.get("/api/v1/people/31337", headers=api.viewer)
    error = assert_error_body(response, 404, "not_found")
    assert error["details"] == {"field": "person_id"}


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/nope", "/api/v2/incidents"])
def test_unknown_route_is_404_json(api: Api, path: str) -> None:
    response = api.client.get(path, headers=api.viewer)
    assert_error_body(response, 404, "not_found")


def test_wrong_method_is_405_json(api: Api) -> None:
    response = api.client.delete(INCIDENTS, headers=api.admin)
    assert_error_body(response, 405, "method_not_allowed")


# --- health and OpenAPI -------------------------------------------------------------------


def test_health_and_readiness(api: Api) -> None:
    health = api.client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready"}


def test_openapi_lists_the_api(api: Api) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/incidents"])
    assert {"get", "patch"} <= set(paths["/api/v1/incidents/{incident_id}"])
    for action in ("acknowledge", "mitigate", "resolve", "close", "reopen"):
        assert f"/api/v1/incidents/{{incident_id}}/{action}" in paths
    assert "/api/v1/incidents/{incident_id}/timeline" in paths
    assert "/api/v1/incidents/{incident_id}/roles/{role_key}" in paths
    assert "/api/v1/playbook/suggest-severity" in paths
    assert "/healthz" in paths


# --- playbook: severity suggestion --------------------------------------------------------


@pytest.mark.parametrize(
    ("impact", "severity"),
    [
        ({"outage": "complete"}, "P0"),
        ({"breach": True}, "P0"),
        ({"security": True}, "P0"),
        ({"outage": "partial"}, "P1"),
        ({"users_affected_percent": 60}, "P1"),
        ({"users_affected_percent": 50.5}, "P1"),
        ({"users_affected_percent": 50}, "P2"),
        ({"users_affected_percent": 30}, "P2"),
        ({"users_affected_percent": 0.1}, "P2"),
        ({"outage": "none", "users_affected_percent": 0}, "P3"),
        ({}, "P3"),
        ({"outage": "complete", "users_affected_percent": 10}, "P0"),
    ],
)
def test_suggest_severity(api: Api, impact: dict[str, Any], severity: str) -> None:
    response = api.client.post("/api/v1/playbook/suggest-severity", headers=api.viewer, json=impact)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["severity"] == severity
    assert body["name"] == {"P0": "Critical", "P1": "High", "P2": "Medium", "P3": "Low"}[severity]
    assert body["criteria"]


@pytest.mark.parametrize(
    ("impact", "field"),
    [
        ({"users_affected_percent": 150}, "users_affected_percent"),
        ({"users_affected_percent": -1}, "users_affected_percent"),
        ({"outage": "total"}, "outage"),
    ],
)
def test_suggest_severity_rejects_bad_impact(api: Api, impact: dict[str, Any], field: str) -> None:
    response = api.client.post("/api/v1/playbook/suggest-severity", headers=api.viewer, json=impact)
    error = assert_error_body(response, 422, "invalid_input")
    assert error["details"]["field"] == field


def test_suggest_severity_needs_a_token(api: Api) -> None:
    response = api.client.post("/api/v1/playbook/suggest-severity", json={"outage": "complete"})
    assert_error_body(response, 401, "unauthorized")
