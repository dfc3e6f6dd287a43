"""The web app through its pages, in-process: sign-in and sessions, CSRF, declaring with
the severity helper, the incident room's forms (kept input, named fields, stale forms),
error pages, and times in the reader's zone. Both backends."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.web_session import sign_in
from warroom.auth import users
from warroom.engine.worker import run_due
from warroom.runtime import Runtime

HTML = {"Accept": "text/html"}
PASSWORD = "a long enough password"


def problem(text: str) -> str:
    found = re.search(r'class="problem"[^>]*>([^<]+)<', text)
    assert found, "the page names no problem"
    return found.group(1)


def incidents(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.client.get("/api/v1/incidents", headers=api.viewer).json()[
        "items"
    ]
    return items


def declare(api: Api, **extra: Any) -> dict[str, Any]:
    body = {"title": "Checkout down", "severity": "P1"} | extra
    response = api.client.post("/api/v1/incidents", headers=api.responder, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def kinds(api: Api, incident_id: int) -> list[tuple[str, str]]:
    entries = api.client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=api.viewer)
    return [(e["kind"], e["actor"]) for e in entries.json()]


def login_form(client: TestClient, next_path: str = "/") -> str:
    page = client.get(f"/login?next={next_path}")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    return token.group(1)


def add_user(runtime: Runtime, email: str, role: str = "responder", zone: str = "UTC") -> None:
    with runtime.transaction() as session:
        users.create_user(
            session=session,
            email=email,
            name=email.split("@")[0].title(),
            role=role,
            password=PASSWORD,
            time_zone=zone,
            now=runtime.clock.now(),
        )


# --- sign-in and sessions ---------------------------------------------------------------


def test_pages_send_the_signed_out_to_sign_in_and_back(api: Api, runtime: Runtime) -> None:
    response = api.client.get("/incidents?status=triggered", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/incidents%3Fstatus%3Dtriggered"
    add_user(runtime, "ada@example.com")
    token = login_form(api.client)
    form = {"email": "ada@example.com", "password": PASSWORD, "csrf": token}
    response = api.client.post(
        "/login", data=form | {"next": "/incidents?status=triggered"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/incidents?status=triggered"
    cookie = response.headers["set-cookie"]
    assert "warroom_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


def test_a_wrong_password_or_unknown_email_signs_nobody_in(api: Api, runtime: Runtime) -> None:
    add_user(runtime, "ada@example.com")
    for email, password in (("ada@example.com", "not the password"), ("eve@example.com", PASSWORD)):
        token = login_form(api.client)
        form = {"email": email, "password": password, "csrf": token, "next": "/"}
        response = api.client.post("/login", data=form, follow_redirects=False)
        assert response.status_code == 401
        assert problem(response.text) == "The email or the password is wrong."
        assert f'value="{email}"' in response.text  # the email is kept, never the password
        assert "warroom_session" not in response.headers.get("set-cookie", "")
        assert api.client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_refuses_a_form_without_its_token_and_never_redirects_off_site(
    api: Api, runtime: Runtime
) -> None:
    add_user(runtime, "ada@example.com")
    form = {"email": "ada@example.com", "password": PASSWORD, "next": "/"}
    refused = api.client.post("/login", data=form | {"csrf": "forged"}, follow_redirects=False)
    assert refused.status_code == 401
    assert problem(refused.text) == "The form expired; try again."
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        token = login_form(api.client)
        response = api.client.post(
            "/login", data=form | {"csrf": token, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/"


def test_signing_out_ends_the_session_for_good(api: Api, runtime: Runtime) -> None:
    csrf = sign_in(api.client, runtime, role="responder")
    kept = dict(api.client.cookies)
    response = api.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    api.client.cookies.update(kept)  # the old cookie, replayed, opens nothing
    assert api.client.get("/", follow_redirects=False).status_code == 303


def test_a_disabled_user_is_signed_out(api: Api, runtime: Runtime) -> None:
    sign_in(api.client, runtime, role="responder", email="ben@example.com")
    assert api.client.get("/", follow_redirects=False).status_code == 200
    with runtime.transaction() as session:
        users.find_user(session=session, ref="ben@example.com").disabled_at = runtime.clock.now()
    assert api.client.get("/", follow_redirects=False).status_code == 303


# --- declaring ----------------------------------------------------------------------------


def test_the_severity_helper_suggests_from_the_playbook(api: Api, runtime: Runtime) -> None:
    csrf = sign_in(api.client, runtime, role="responder")
    form = {"csrf": csrf, "intent": "suggest", "title": "Site down", "outage": "complete"}
    response = api.client.post("/incidents", data=form | {"users_affected": "60"})
    assert response.status_code == 200
    assert "Suggested: <strong>P0" in response.text
    assert '<option value="P0" selected>' in response.text
    assert 'value="Site down"' in response.text
    breach = api.client.post("/incidents", data=form | {"breach": "1", "users_affected": "1"})
    assert '<option value="security" selected>' in breach.text
    bad = api.client.post("/incidents", data=form | {"users_affected": "lots"})
    assert bad.status_code == 422
    assert problem(bad.text).startswith("users affected")
    assert incidents(api) == []


def test_declaring_from_the_form_opens_the_room(api: Api, runtime: Runtime) -> None:
    csrf = sign_in(api.client, runtime, role="responder", email="ada@example.com")
    form = {"csrf": csrf, "title": "Checkout down", "severity": "P0", "type": "operational"}
    response = api.client.post("/incidents", data=form, follow_redirects=False)
    assert response.status_code == 303
    room = api.client.get(response.headers["location"])
    assert "Checkout down" in room.text
    assert "Immediate" in room.text
    [made] = incidents(api)
    assert (made["severity"], made["created_by"]) == ("P0", "user:ada@example.com")


def test_a_declaration_with_bad_fields_keeps_the_input_and_writes_nothing(
    api: Api, runtime: Runtime
) -> None:
    csrf = sign_in(api.client, runtime, role="responder")
    form = {"csrf": csrf, "title": "", "summary": "db on fire", "severity": "P0"}
    response = api.client.post("/incidents", data=form)
    assert response.status_code == 422
    assert problem(response.text).startswith("title")
    assert ">db on fire</textarea>" in response.text
    assert 'id="title" name="title" value="" maxlength="300" required aria-invalid="true"' in (
        response.text
    )
    unknown = api.client.post("/incidents", data=form | {"title": "x", "severity": "P9"})
    assert unknown.status_code == 422
    assert "P9" in problem(unknown.text)
    assert incidents(api) == []


# --- the incident room -------------------------------------------------------------------


def test_acknowledging_from_the_room_is_on_the_timeline(api: Api, runtime: Runtime) -> None:
    incident = declare(api)
    csrf = sign_in(api.client, runtime, role="responder", email="ada@example.com")
    url = f"/incidents/{incident['id']}"
    response = api.client.post(f"{url}/act", data={"csrf": csrf, "action": "acknowledge"})
    assert response.status_code == 200  # followed back to the room
    assert 'id="incident-status">acknowledged<' in response.text
    assert ("acknowledged", "user:ada@example.com") in kinds(api, incident["id"])
    again = api.client.post(f"{url}/act", data={"csrf": csrf, "action": "acknowledge"})
    assert again.status_code == 409
    assert "acknowledge" in problem(again.text)


def test_a_task_skipped_without_a_reason_is_refused_with_the_field_named(
    api: Api, runtime: Runtime
) -> None:
    incident = declare(api)
    task = incident["phases"][0]["tasks"][0]
    csrf = sign_in(api.client, runtime, role="responder")
    url = f"/incidents/{incident['id']}/tasks/{task['id']}"
    refused = api.client.post(url, data={"csrf": csrf, "status": "skipped", "reason": " "})
    assert refused.status_code == 422
    assert problem(refused.text) == "reason: skipping a task needs a reason"
    done = api.client.post(url, data={"csrf": csrf, "status": "done"})
    assert done.status_code == 200
    read = api.client.get(f"/api/v1/incidents/{incident['id']}", headers=api.viewer).json()
    assert read["phases"][0]["tasks"][0]["status"] == "done"


def test_a_stale_severity_form_is_not_applied(api: Api, runtime: Runtime) -> None:
    incident = declare(api)
    csrf = sign_in(api.client, runtime, role="responder")
    url = f"/incidents/{incident['id']}"
    revision = str(incident["revision"])
    note = {"text": "meanwhile, elsewhere"}
    api.client.post(f"/api/v1{url}/notes", headers=api.responder, json=note)
    form = {"csrf": csrf, "severity": "P0", "type": "operational", "reason": "all regions"}
    stale = api.client.post(f"{url}/edit", data=form | {"revision": revision})
    assert stale.status_code == 409
    assert "changed while you were editing" in problem(stale.text)
    assert 'value="all regions"' in stale.text
    assert api.client.get(f"/api/v1{url}", headers=api.viewer).json()["severity"] == "P1"
    current = api.client.get(f"/api/v1{url}", headers=api.viewer).json()["revision"]
    kept = re.search(r'name="revision" value="(\d+)"', stale.text)
    assert kept  # the refused form now carries the current revision: submitting again works
    assert kept.group(1) == str(current)
    fresh = api.client.post(f"{url}/edit", data=form | {"revision": kept.group(1)})
    assert fresh.status_code == 200
    read = api.client.get(f"/api/v1{url}", headers=api.viewer).json()
    assert read["severity"] == "P0"
    assert read["phases"][0]["key"].startswith("p0-")


def test_roles_are_assigned_and_paged_from_the_room(api: Api, runtime: Runtime) -> None:
    person = api.client.post("/api/v1/people", headers=api.admin, json={"name": "Dana DBA"})
    incident = declare(api)
    csrf = sign_in(api.client, runtime, role="responder")
    url = f"/incidents/{incident['id']}"
    form = {"csrf": csrf, "role": "database-administrator", "person": str(person.json()["id"])}
    response = api.client.post(f"{url}/roles", data=form)
    assert response.status_code == 200
    assert "Dana DBA" in response.text.split('id="roles"')[1].split("</ul>")[0]
    paged = api.client.post(f"{url}/page", data={"csrf": csrf, "role": "database-administrator"})
    assert paged.status_code == 200
    run_due(factory=runtime.factory, clock=runtime.clock, handlers=runtime.handlers())
    assert "summoned" in [kind for kind, _ in kinds(api, incident["id"])]
    nobody = api.client.post(f"{url}/page", data={"csrf": csrf, "role": "network-engineer"})
    assert nobody.status_code == 409
    assert "nobody to page" in problem(nobody.text)


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    api: Api, runtime: Runtime
) -> None:
    incident = declare(api)
    sign_in(api.client, runtime, role="admin")
    url = f"/incidents/{incident['id']}"
    before = kinds(api, incident["id"])
    for path, form in ((f"{url}/act", {"action": "acknowledge"}), (f"{url}/note", {"text": "x"})):
        for token in ({}, {"csrf": "forged"}):
            response = api.client.post(path, data=form | token, headers=HTML)
            assert response.status_code == 403
            assert "security token" in response.text
            assert "<html" in response.text
    assert kinds(api, incident["id"]) == before


def test_unknown_pages_and_incidents_get_a_404_page(api: Api, runtime: Runtime) -> None:
    sign_in(api.client, runtime, role="viewer")
    for path in ("/no-such-page", "/incidents/999", "/incidents/abc"):
        response = api.client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>Page not found</h1>" in response.text
    api_missing = api.client.get("/api/v1/incidents/999", headers=api.viewer | HTML)
    assert api_missing.json()["error"]["code"] == "not_found"


def test_times_are_shown_in_the_readers_zone_with_utc_on_hover(api: Api, runtime: Runtime) -> None:
    incident = declare(api)
    add_user(runtime, "kai@example.com", zone="Asia/Tokyo")
    token = login_form(api.client)
    form = {"email": "kai@example.com", "password": PASSWORD, "csrf": token, "next": "/"}
    api.client.post("/login", data=form)
    room = api.client.get(f"/incidents/{incident['id']}").text
    created = incident["created_at"].replace("Z", "+00:00")
    found = re.search(r'<time datetime="([^"]+)" title="([^"]+) UTC">([^<]+) JST</time>', room)
    assert found, "no time in the reader's zone"
    assert found.group(1) == created
    utc_hour = int(found.group(2)[11:13])
    assert int(found.group(3)[11:13]) == (utc_hour + 9) % 24


# --- the incidents list ------------------------------------------------------------------


def test_the_incidents_list_searches_filters_and_pages(api: Api, runtime: Runtime) -> None:
    for n in range(27):
        declare(api, title=f"Disk full on db-{n}", severity="P2" if n % 3 else "P1")
    declare(api, title="Checkout down", severity="P0")
    sign_in(api.client, runtime, role="viewer")
    found = api.client.get("/incidents?q=checkout").text
    assert "Checkout down" in found
    assert "db-1<" not in found
    p1 = api.client.get("/incidents?severity=P1").text
    assert re.findall(r"Disk full on db-(\d+)<", p1) == [str(n) for n in range(24, -1, -3)]
    first = api.client.get("/incidents").text
    assert "page 1 of 2" in first
    older = re.search(r'rel="next" href="([^"]+)"', first)
    assert older
    assert older.group(1) == "/incidents?page=2"
    second = api.client.get(older.group(1).replace("&amp;", "&")).text
    assert re.findall(r"Disk full on db-(\d+)<", second) == ["2", "1", "0"]
    filtered = api.client.get("/incidents?severity=P2&status=triggered").text
    link = re.search(r'rel="next" href="([^"]+)"', filtered)
    assert link is None  # 18 P2s fit on one page


def test_a_bad_filter_is_named_and_kept(api: Api, runtime: Runtime) -> None:
    sign_in(api.client, runtime, role="viewer")
    response = api.client.get("/incidents?from=yesterday&q=disk")
    assert response.status_code == 422
    assert problem(response.text).startswith("from:")
    assert 'name="from" type="date" value="yesterday" aria-invalid="true"' in response.text
    assert 'value="disk"' in response.text


# --- your account ------------------------------------------------------------------------


def test_you_choose_your_time_zone(api: Api, runtime: Runtime) -> None:
    csrf = sign_in(api.client, runtime, role="viewer")
    bad = api.client.post("/account/time-zone", data={"csrf": csrf, "time_zone": "Mars/Base"})
    assert bad.status_code == 422
    assert "Mars/Base" in problem(bad.text)
    assert 'value="Mars/Base"' in bad.text
    saved = api.client.post("/account/time-zone", data={"csrf": csrf, "time_zone": "Asia/Tokyo"})
    assert "times are now shown in Asia/Tokyo" in saved.text
    declare(api)
    assert " JST</time>" in api.client.get("/incidents").text


def test_a_new_password_needs_the_current_one_and_ends_other_sessions(
    api: Api, runtime: Runtime
) -> None:
    csrf = sign_in(api.client, runtime, role="viewer", email="vic@example.com")
    with TestClient(api.client.app) as other:
        sign_in_again = login_form(other)
        form = {"email": "vic@example.com", "password": "correct horse battery staple"}
        other.post("/login", data=form | {"csrf": sign_in_again, "next": "/"})
        assert other.get("/", follow_redirects=False).status_code == 200
        wrong = api.client.post(
            "/account/password", data={"csrf": csrf, "current": "nope", "new": "x" * 12}
        )
        assert wrong.status_code == 422
        assert problem(wrong.text) == "current: that is not your password"
        short = api.client.post(
            "/account/password",
            data={"csrf": csrf, "current": "correct horse battery staple", "new": "short"},
        )
        assert short.status_code == 422
        assert problem(short.text).startswith("new password")
        done = api.client.post(
            "/account/password",
            data={"csrf": csrf, "current": "correct horse battery staple", "new": "y" * 12},
        )
        assert "your new password is set" in done.text
        assert api.client.get("/", follow_redirects=False).status_code == 200  # still in
        assert other.get("/", follow_redirects=False).status_code == 303  # signed out


# --- the dashboard -----------------------------------------------------------------------


def test_the_dashboard_shows_what_burns_what_is_due_and_who_is_on(
    api: Api, runtime: Runtime, clock: Any
) -> None:
    for name in ("ana", "ben", "cy"):
        body = {"name": name.title(), "email": f"{name}@example.com"}
        assert api.client.post("/api/v1/people", headers=api.admin, json=body).status_code == 201
    layer = {"name": "daily", "rotation": "daily", "start": "2026-01-01"}
    layer["participants"] = ["ana@example.com", "ben@example.com"]  # type: ignore[assignment]
    schedule = {"name": "primary", "timezone": "UTC", "layers": [layer]}
    made = api.client.post("/api/v1/schedules", headers=api.admin, json=schedule).json()
    now = clock.now()
    on_now = api.client.get("/api/v1/oncall", headers=api.viewer).json()
    replaced = on_now[0]["people"][0]["email"]
    override = {"person": "cy@example.com", "replaces": replaced}
    override |= {"starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat()}
    url = f"/api/v1/schedules/{made['id']}/overrides"
    assert api.client.post(url, headers=api.responder, json=override).status_code == 201
    low = declare(api, title="Slow search", severity="P3")
    high = declare(api, title="Checkout down", severity="P0")
    done = declare(api, title="Old one", severity="P1")
    api.client.post(f"/api/v1/incidents/{done['id']}/resolve", headers=api.responder)
    clock.advance(timedelta(minutes=20))  # past the P0's first phase: its tasks are overdue
    sign_in(api.client, runtime, role="viewer")
    page = api.client.get("/").text
    cards = page.split('id="open-incidents"')[1].split("</section>")[0]
    assert cards.index("Checkout down") < cards.index("Slow search")  # by severity
    assert "Old one" not in cards
    first_phase = high["phases"][0]
    assert f"phase: {first_phase['name']}" in cards
    assert 'class="countdown overdue"' in cards
    overdue = page.split('id="overdue-tasks"')[1].split("</section>")[0]
    assert first_phase["tasks"][0]["title"] in overdue
    assert f"/incidents/{high['id']}#task-{first_phase['tasks'][0]['id']}" in overdue
    assert f"/incidents/{low['id']}#" not in overdue
    on_call = page.split('id="oncall-h"')[1].split("</section>")[0]
    assert "<strong>primary</strong>:\n      Cy" in on_call


def test_guessing_passwords_is_slowed_down(api: Api, runtime: Runtime) -> None:
    add_user(runtime, "ada@example.com")
    answers = []
    for _ in range(11):
        token = login_form(api.client)
        form = {"email": "ada@example.com", "password": "guess", "csrf": token, "next": "/"}
        answers.append(api.client.post("/login", data=form, follow_redirects=False))
    assert [a.status_code for a in answers] == [401] * 10 + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert problem(answers[-1].text).startswith("Too many attempts")


def test_odd_input_gets_a_page_not_a_crash(api: Api, runtime: Runtime) -> None:
    incident = declare(api)
    sign_in(api.client, runtime, role="responder")
    assert api.client.get("/incidents?page=%C2%B2").status_code == 200
    assert api.client.get("/incidents?page=" + "9" * 5000).status_code == 200
    assert api.client.get("/incidents?to=9999-12-31").status_code in (200, 422)
    with runtime.transaction() as session:
        users.find_user(session=session, ref="responder@example.com").time_zone = "Asia/Tokyo"
    early = api.client.get("/incidents?from=0001-01-01")
    assert early.status_code == 422
    assert problem(early.text).startswith("from:")
    note = api.client.post(
        f"/incidents/{incident['id']}/note", data={"csrf": "ünïcode", "text": "x"}, headers=HTML
    )
    assert note.status_code == 403
    long_reason = {"severity": "P0", "type": "operational", "reason": "r" * 3000}
    csrf = re.search(r'name="csrf" value="([^"]+)"', api.client.get("/").text)
    assert csrf
    edit = api.client.post(
        f"/incidents/{incident['id']}/edit", data=long_reason | {"csrf": csrf.group(1)}
    )
    assert edit.status_code == 422
    assert problem(edit.text).startswith("reason")
    assert 'id="incident-status"' in edit.text  # the room, with the problem named
