"""The admin pages: users, API tokens, integrations and channels, for real.

Each admin action is checked by its effect (the new user signs in, a revoked token is
refused, a rotated integration's old URL is gone, a test send reaches a real receiver);
non-admins, forms without a CSRF token and bad input change nothing."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks import Webhook

from tests.apps import app_with
from tests.receivers import SECRET, Receiver
from tests.web_session import csrf_of, sign_in
from warroom.alerts.models import Alert, Integration
from warroom.auth import service as auth
from warroom.auth.models import ApiToken, User, WebSession
from warroom.clock import FakeClock
from warroom.runtime import Runtime
from warroom.settings import Settings
from warroom.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, run_worker=False)) as browser:
        yield browser


@pytest.fixture
def admin(client: TestClient, runtime: Runtime) -> str:
    """The client signed in as an admin; the page CSRF token."""
    return sign_in(client, runtime, role="admin", email="root@example.com")


def log_in(client: TestClient, email: str, password: str) -> int:
    """Sign in through the login form; the status of the answer (303 when it worked)."""
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf": token},
        follow_redirects=False,
    )
    return answer.status_code


def counts(runtime: Runtime) -> dict[str, object]:
    """Everything an admin form can write: rows, users' roles, zones and access, tokens'
    revocations, integrations' keys, sessions."""
    with runtime.read() as session:
        return {
            "users": session.execute(
                select(User.email, User.role, User.time_zone, User.disabled_at).order_by(User.id)
            ).all(),
            "tokens": session.execute(
                select(ApiToken.name, ApiToken.role, ApiToken.revoked_at).order_by(ApiToken.id)
            ).all(),
            "keys": session.execute(
                select(Integration.name, Integration.key).order_by(Integration.id)
            ).all(),
            "sessions": session.scalar(select(func.count()).select_from(WebSession)),
        }


def user(runtime: Runtime, email: str) -> User:
    with runtime.read() as session:
        row = session.scalar(select(User).where(User.email == email))
    assert row is not None
    return row


def shown_secret(page: str) -> str:
    found = re.search(r'<input id="secret"[^>]* value="([^"]+)"', page)
    assert found is not None, page
    return html.unescape(found.group(1))


def tag(page: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    found = re.search(rf'<(?:input|select|button)[^>]* id="{re.escape(element_id)}"[^>]*>', page)
    assert found is not None, element_id
    return found.group(0)


def problem(page: str) -> str:
    found = re.search(r'<p class="problem" role="alert" id="([^"]+)">([^<]*)</p>', page)
    assert found is not None, page
    return f"{found.group(1)}: {html.unescape(found.group(2))}"


def test_the_index_links_every_section(client: TestClient, admin: str) -> None:
    index = client.get("/admin")
    assert index.status_code == 200
    for path in ("/admin/users", "/admin/tokens", "/admin/integrations", "/admin/channels"):
        assert f'href="{path}"' in index.text
        assert client.get(path).status_code == 200
    assert 'aria-current="page"' in tag_of_link(index.text, "/admin")


def tag_of_link(page: str, href: str) -> str:
    found = re.search(rf'<a href="{re.escape(href)}"[^>]*>', page)
    assert found is not None
    return found.group(0)


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/admin/users", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/admin/users"


# users


def test_a_user_added_with_a_password_signs_in(
    client: TestClient, admin: str, runtime: Runtime
) -> None:
    added = client.post(
        "/admin/users",
        data={
            "csrf": admin,
            "email": "Dana@Example.com",
            "name": "Dana",
            "role": "commander",
            "time_zone": "Europe/Berlin",
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    dana = user(runtime, "dana@example.com")
    assert (dana.name, dana.role, dana.time_zone) == ("Dana", "commander", "Europe/Berlin")
    listed = client.get(added.headers["location"]).text
    assert "Saved: dana@example.com (commander, Europe/Berlin, enabled)" in listed
    with TestClient(client.app) as other:
        assert log_in(other, "dana@example.com", PASSWORD) == 303
        assert other.get("/").status_code == 200


def test_a_generated_password_is_shown_once_and_works(
    client: TestClient, admin: str, runtime: Runtime
) -> None:
    added = client.post(
        "/admin/users",
        data={"csrf": admin, "email": "eve@example.com", "name": "Eve", "role": "viewer"}
        | {"time_zone": "UTC", "password": ""},
    )
    assert added.status_code == 201
    assert "shown only this once" in added.text
    password = shown_secret(added.text)
    assert password not in client.get("/admin/users").text
    with TestClient(client.app) as other:
        assert log_in(other, "eve@example.com", "not the password") == 401
        assert log_in(other, "eve@example.com", password) == 303


def test_a_role_change_signs_the_user_out_and_a_zone_change_does_not(
    client: TestClient, admin: str, runtime: Runtime
) -> None:
    with TestClient(client.app) as other:
        sign_in(other, runtime, role="responder", email="rae@example.com")
        rae = user(runtime, "rae@example.com")
        moved = client.post(
            f"/admin/users/{rae.id}",
            data={"csrf": admin, "role": "responder", "time_zone": "Asia/Tokyo"},
            follow_redirects=False,
        )
        assert moved.status_code == 303
        assert user(runtime, "rae@example.com").time_zone == "Asia/Tokyo"
        assert other.get("/", follow_redirects=False).status_code == 200
        promoted = client.post(
            f"/admin/users/{rae.id}",
            data={"csrf": admin, "role": "commander", "time_zone": "Asia/Tokyo"},
            follow_redirects=False,
        )
        assert promoted.status_code == 303
        assert user(runtime, "rae@example.com").role == "commander"
        assert other.get("/", follow_redirects=False).status_code == 303  # signed out


def test_a_disabled_user_cannot_sign_in_until_enabled(
    client: TestClient, admin: str, runtime: Runtime
) -> None:
    added = client.post(
        "/admin/users",
        data={"csrf": admin, "email": "sam@example.com", "name": "Sam", "role": "responder"}
        | {"time_zone": "UTC", "password": PASSWORD},
        follow_redirects=False,
    )
    assert added.status_code == 303
    sam = user(runtime, "sam@example.com")
    with TestClient(client.app) as other:
        assert log_in(other, "sam@example.com", PASSWORD) == 303
        off = client.post(
            f"/admin/users/{sam.id}/access",
            data={"csrf": admin, "action": "disable"},
            follow_redirects=False,
        )
        assert off.status_code == 303
        assert other.get("/", follow_redirects=False).status_code == 303  # the session ended
        assert log_in(other, "sam@example.com", PASSWORD) == 401
        assert "disabled" in client.get("/admin/users").text
        on = client.post(
            f"/admin/users/{sam.id}/access",
            data={"csrf": admin, "action": "enable"},
            follow_redirects=False,
        )
        assert on.status_code == 303
        assert user(runtime, "sam@example.com").disabled_at is None
        assert log_in(other, "sam@example.com", PASSWORD) == 303


def test_an_admin_cannot_disable_or_demote_themselves(
    client: TestClient, admin: str, runtime: Runtime
) -> None:
    me = user(runtime, "root@example.com")
    before = counts(runtime)
    off = client.post(f"/admin/users/{me.id}/access", data={"csrf": admin, "action": "disable"})
    assert off.status_code == 409
    assert problem(off.text) == (
        f"problem-access-{me.id}: access: you cannot disable your own account; "
        "another admin must do it"
    )
    demoted = client.post(
        f"/admin/users/{me.id}", data={"csrf": admin, "role": "viewer", "time_zone": "UTC"}
    )
    assert demoted.status_code == 409
    assert "you cannot change your own role" in problem(demoted.text)
    assert 'aria-invalid="true"' in tag(demoted.text, f"role-{me.id}")
    assert 'value="viewer" selected' in demoted.text  # the choice is kept
    assert counts(runtime) == before
    assert client.get("/admin").status_code == 200  # still an admin, still signed in
    zone = client.post(
        f"/admin/users/{me.id}",
        data={"csrf": admin, "role": "admin", "time_zone": "America/Chicago"},
        follow_redirects=False,
    )
    assert zone.status_code == 303  # one's own time zone is fine
    assert user(runtime, "root@example.com").time_zone == "America/Chicago"


@pytest.mark.parametrize(
    ("fields", "status", "field", "said"),
    [
        ({"email": "not-an-email"}, 422, "email", "is not an email address"),
        ({"email": "root@example.com"}, 409, "email", "a user with root@example.com exists"),
        ({"name": "  "}, 422, "name", "must be 1 to 200 characters"),
        ({"role": "owner"}, 422, "role", "must be one of viewer"),
        ({"time_zone": "Mars/Olympus"}, 422, "time_zone", "unknown time zone"),
        ({"time_zone": "x" * 300}, 422, "time_zone", "unknown time zone"),
        ({"password": "short"}, 422, "password", "must be 12 to 1000 characters"),
    ],
)
def test_a_refused_new_user_keeps_the_input_and_names_the_field(
    client: TestClient,
    admin: str,
    runtime: Runtime,
    fields: dict[str, str],
    status: int,
    field: str,
    said: str,
) -> None:
    data = {"email": "kim@example.com", "name": "Kim", "role": "security"}
    data |= {"time_zone": "Europe/Paris", "password": PASSWORD} | fields
    before = counts(runtime)
    refused = client.post("/admin/users", data={"csrf": admin} | data)
    assert refused.status_code == status
    assert problem(refused.text).startswith(f"problem-create: {field}: ")
    assert said in problem(refused.text)
    ids = {"email": "new-email", "name": "new-name", "role": "new-role"}
    ids |= {"time_zone": "new-zone", "password": "new-password"}
    assert 'aria-invalid="true" aria-describedby="problem-create"' in tag(refused.text, ids[field])
    for kept in ("email", "name", "time_zone"):
        assert f'value="{html.escape(data[kept], quote=True)}"' in tag(refused.text, ids[kept])
    if data["role"] in ("viewer", "responder", "commander", "security", "admin"):
        assert f'<option value="{data["role"]}" selected>' in refused.text
    assert PASSWORD not in refused.text  # a password is never written back into the page
    assert counts(runtime) == before


def test_a_bad_time_zone_on_a_user_is_refused(
    client: TestClient, admin: str, runtime: Runtime
) -> None:
    with TestClient(client.app) as other:
        sign_in(other, runtime, role="viewer", email="vic@example.com")
    vic = user(runtime, "vic@example.com")
    before = counts(runtime)
    refused = client.post(
        f"/admin/users/{vic.id}",
        data={"csrf": admin, "role": "responder", "time_zone": "Nowhere/Town"},
    )
    assert refused.status_code == 422
    assert problem(refused.text) == (
        f"problem-user-{vic.id}: time_zone: unknown time zone 'Nowhere/Town'"
    )
    zone = tag(refused.text, f"zone-{vic.id}")
    assert 'value="Nowhere/Town"' in zone
    assert 'aria-invalid="true"' in zone
    assert counts(runtime) == before


# API tokens


def test_a_token_is_shown_once_works_and_stops_when_revoked(
    client: TestClient, admin: str, runtime: Runtime
) -> None:
    made = client.post(
        "/admin/tokens", data={"csrf": admin, "name": "deploy-bot", "role": "viewer"}
    )
    assert made.status_code == 201
    secret = shown_secret(made.text)
    assert secret.startswith("wr_")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/incidents", headers=bearer).status_code == 200
    with runtime.read() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.name == "deploy-bot"))
    assert token is not None
    assert token.role == "viewer"
    listed = client.get("/admin/tokens").text
    assert secret not in listed
    row = re.search(rf'<tr id="token-{token.id}">.*?</tr>', listed, re.S)
    assert row is not None
    assert row.group(0).count("<time ") == 2  # created and last used; not revoked
    revoked = client.post(f"/admin/tokens/{token.id}/revoke", data={"csrf": admin})
    assert revoked.status_code == 200
    assert "Revoked: deploy-bot. It no longer works." in revoked.text
    assert client.get("/api/v1/incidents", headers=bearer).status_code == 401
    again = client.post(f"/admin/tokens/{token.id}/revoke", data={"csrf": admin})
    assert again.status_code == 200
    assert client.post("/admin/tokens/999999/revoke", data={"csrf": admin}).status_code == 404


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"name": ""}, 422, "name"),
        ({"name": "x" * 101}, 422, "name"),
        ({"role": "root"}, 422, "role"),
        ({"name": "taken"}, 409, "name"),
    ],
)
def test_a_refused_token_keeps_the_input(
    client: TestClient,
    admin: str,
    runtime: Runtime,
    fields: dict[str, str],
    status: int,
    field: str,
) -> None:
    assert (
        client.post(
            "/admin/tokens", data={"csrf": admin, "name": "taken", "role": "viewer"}
        ).status_code
        == 201
    )
    before = counts(runtime)
    data = {"name": "ci", "role": "responder"} | fields
    refused = client.post("/admin/tokens", data={"csrf": admin} | data)
    assert refused.status_code == status
    assert problem(refused.text).startswith(f"problem-create: {field}: ")
    assert 'aria-invalid="true"' in tag(refused.text, f"token-{field}")
    assert f'value="{data["name"]}"' in tag(refused.text, "token-name")
    assert counts(runtime) == before


# integrations


def integration_url(page: str, name: str) -> str:
    row = re.search(rf"<td>{re.escape(name)}</td>.*?<code class=\"url\">([^<]+)</code>", page, re.S)
    assert row is not None, page
    return html.unescape(row.group(1))


def test_an_integration_gets_a_url_and_a_rotated_key_retires_the_old_one(
    client: TestClient, admin: str, runtime: Runtime
) -> None:
    made = client.post(
        "/admin/integrations", data={"csrf": admin, "name": "cron", "kind": "generic"}
    )
    assert made.status_code == 200  # after the redirect: the list, with the new URL
    old_url = integration_url(made.text, "cron")
    assert old_url.startswith(runtime.settings.resolved_base_url() + "/hooks/generic/")
    assert f"Point generic at <code>{old_url}</code>" in made.text
    old_path = old_url.removeprefix(runtime.settings.resolved_base_url())
    assert client.post(f"{old_path}?wait=true", json={"summary": "first"}).status_code == 202
    with runtime.read() as session:
        cron = session.scalar(select(Integration).where(Integration.name == "cron"))
    assert cron is not None
    rotated = client.post(f"/admin/integrations/{cron.id}/rotate", data={"csrf": admin})
    assert rotated.status_code == 200
    new_url = integration_url(rotated.text, "cron")
    assert new_url != old_url
    assert f"its URL is now <code>{new_url}</code>. The old URL no longer works." in rotated.text
    assert client.post(old_path, json={"summary": "stale"}).status_code == 404
    new_path = new_url.removeprefix(runtime.settings.resolved_base_url())
    assert (
        client.post(f"{new_path}?wait=true", json={"summary": "Backup failed"}).status_code == 202
    )
    with runtime.read() as session:
        titles = set(session.scalars(select(Alert.summary)).all())
    assert titles == {"first", "Backup failed"}
    assert client.post("/admin/integrations/999999/rotate", data={"csrf": admin}).status_code == 404


def test_an_events_v2_integration_shows_its_routing_key(client: TestClient, admin: str) -> None:
    made = client.post(
        "/admin/integrations", data={"csrf": admin, "name": "pd", "kind": "events-v2"}
    )
    assert made.status_code == 200
    assert integration_url(made.text, "pd").endswith("/v2/enqueue")
    assert "routing_key: <code>" in made.text


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [({"kind": "nagios"}, 422, "kind"), ({"name": ""}, 422, "name"), ({"name": "am"}, 409, "name")],
)
def test_a_refused_integration_keeps_the_input(
    client: TestClient,
    admin: str,
    runtime: Runtime,
    fields: dict[str, str],
    status: int,
    field: str,
) -> None:
    client.post("/admin/integrations", data={"csrf": admin, "name": "am", "kind": "alertmanager"})
    before = counts(runtime)
    data = {"name": "grafana-prod", "kind": "grafana"} | fields
    refused = client.post("/admin/integrations", data={"csrf": admin} | data)
    assert refused.status_code == status
    assert problem(refused.text).startswith(f"problem-create: {field}: ")
    assert 'aria-invalid="true"' in tag(refused.text, f"integration-{field}")
    assert f'value="{data["name"]}"' in tag(refused.text, "integration-name")
    assert counts(runtime) == before


# channels


def channels(tmp_path: Path, url: str) -> Path:
    """A webhook to the receiver, and an email channel whose server refuses connections."""
    path = tmp_path / "channels.json"
    hook = {"name": "ops-events", "url": url, "secret": SECRET}
    mail = {"name": "ops-mail", "host": "127.0.0.1", "port": 1, "security": "none"}
    mail |= {"sender": "warroom@example.com", "timeout_seconds": 5}
    path.write_text(json.dumps({"webhooks": [hook], "email": [mail]}))
    return path


def test_channels_are_listed_and_a_test_send_reaches_the_receiver(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> None:
    with app_with(settings, clock, channels(tmp_path, receiver.url)) as (runtime, client, _):
        csrf = sign_in(client, runtime, role="admin", email="root@example.com")
        listed = client.get("/admin/channels").text
        for name, kind, target in (
            ("console", "console", "the warroom.notify log"),
            ("ops-events", "webhook", receiver.url),
            ("ops-mail", "email", "smtp://127.0.0.1:1 (none) as warroom@example.com"),
        ):
            row = re.search(rf'<tr id="channel-{name}">.*?</tr>', listed, re.S)
            assert row is not None
            assert f"<td>{kind}</td>" in row.group(0)
            assert f"<td>{target}</td>" in row.group(0)
            assert "Send test" in row.group(0)
        assert 'id="to-ops-events"' not in listed  # a webhook sends to one place
        assert 'value="root@example.com"' in tag(listed, "to-ops-mail")

        sent = client.post("/admin/channels/test", data={"csrf": csrf, "name": "ops-events"})
        assert sent.status_code == 200
        assert '<p role="status" id="result-ops-events" class="status-sent">Sent: HTTP 200</p>' in (
            sent.text
        )
        [(headers, body)] = receiver.requests
        assert Webhook(SECRET).verify(body, headers)["type"] == "warroom.test"

        receiver.script = [404]
        refused = client.post("/admin/channels/test", data={"csrf": csrf, "name": "ops-events"})
        assert refused.status_code == 200
        assert problem(refused.text).startswith("result-ops-events: Failed: PermanentError: ")
        assert "answered HTTP 404" in problem(refused.text)
        assert len(receiver.requests) == 2

        unreachable = client.post(
            "/admin/channels/test", data={"csrf": csrf, "name": "ops-mail", "to": "cy@example.com"}
        )
        assert unreachable.status_code == 200
        assert problem(unreachable.text).startswith("result-ops-mail: Failed: ")
        assert 'value="cy@example.com"' in tag(unreachable.text, "to-ops-mail")

        no_one = client.post(
            "/admin/channels/test", data={"csrf": csrf, "name": "ops-mail", "to": " "}
        )
        assert no_one.status_code == 422
        assert problem(no_one.text) == (
            "problem-test-ops-mail: to: ops-mail sends to a person; "
            "say which address or number to use"
        )
        assert 'aria-invalid="true"' in tag(no_one.text, "to-ops-mail")
        unknown = client.post("/admin/channels/test", data={"csrf": csrf, "name": "pager"})
        assert unknown.status_code == 404
        assert len(receiver.requests) == 2


# who may


def forms(runtime: Runtime) -> list[tuple[str, dict[str, str]]]:
    """Every admin form, filled in as an admin would, aimed at real rows."""
    victim = user(runtime, "vic@example.com")
    with runtime.read() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.name == "keep"))
        hook = session.scalar(select(Integration).where(Integration.name == "keep"))
    assert token is not None
    assert hook is not None
    return [
        ("/admin/users", {"email": "new@example.com", "name": "New", "role": "admin"}),
        (f"/admin/users/{victim.id}", {"role": "admin", "time_zone": "Asia/Tokyo"}),
        (f"/admin/users/{victim.id}/access", {"action": "disable"}),
        ("/admin/tokens", {"name": "new", "role": "admin"}),
        (f"/admin/tokens/{token.id}/revoke", {}),
        ("/admin/integrations", {"name": "new", "kind": "generic"}),
        (f"/admin/integrations/{hook.id}/rotate", {}),
        ("/admin/channels/test", {"name": "ops-events"}),
    ]


@pytest.fixture
def world(
    settings: Settings, clock: FakeClock, receiver: Receiver, tmp_path: Path
) -> Iterator[tuple[Runtime, TestClient]]:
    """An app with a webhook channel, a user, a token and an integration to aim forms at."""
    with app_with(settings, clock, channels(tmp_path, receiver.url)) as (runtime, client, token):
        with TestClient(client.app) as other:
            sign_in(other, runtime, role="viewer", email="vic@example.com")
        client.post(
            "/api/v1/integrations",
            json={"name": "keep", "kind": "generic"},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        with runtime.transaction() as session:
            auth.create_token(session=session, name="keep", role="viewer", now=clock.now())
        yield runtime, client


@pytest.mark.parametrize("role", ["commander", "viewer"])
def test_only_admins_see_or_use_the_admin_pages(
    world: tuple[Runtime, TestClient], receiver: Receiver, role: str
) -> None:
    runtime, client = world
    csrf = sign_in(client, runtime, role=role, email=f"{role}@example.com")
    assert 'href="/admin"' not in client.get("/").text
    for path in ("/admin", "/admin/users", "/admin/tokens", "/admin/integrations"):
        page = client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 403, path
        assert "needs admin" in page.text
    assert client.get("/admin/channels").status_code == 403
    before = counts(runtime)
    for path, data in forms(runtime):
        refused = client.post(path, data={"csrf": csrf} | data, headers={"accept": "text/html"})
        assert refused.status_code == 403, path
        assert f"the {role} role cannot do this; it needs admin" in refused.text
    assert counts(runtime) == before
    assert receiver.requests == []


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_an_admin_form_without_its_csrf_token_changes_nothing(
    world: tuple[Runtime, TestClient], receiver: Receiver, csrf: str | None
) -> None:
    runtime, client = world
    sign_in(client, runtime, role="admin", email="root@example.com")
    before = counts(runtime)
    for path, data in forms(runtime):
        sent = data if csrf is None else data | {"csrf": csrf}
        refused = client.post(path, data=sent, headers={"accept": "text/html"})
        assert refused.status_code == 403, path
        assert "security token is missing or stale" in refused.text
    assert counts(runtime) == before
    assert receiver.requests == []
