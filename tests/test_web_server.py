"""The web app on a real `warroom serve`: the first run prints how to sign in, once, and
that works; an open page hears about a change made elsewhere through Server-Sent Events."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.procs import Server, warroom_env
from warroom.settings import Settings

FIRST_RUN = re.compile(r"email:\s+(\S+)\s+password:\s+(\S+).*?token:\s+(wr_\S+)", re.S)


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    login = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token
    form = {"email": email, "password": password, "csrf": token.group(1), "next": "/"}
    return client.post("/login", data=form)


def test_the_first_run_prints_a_sign_in_once_and_it_works(
    settings: Settings, tmp_path: Path
) -> None:
    env = warroom_env(settings.resolved_database_url(), settings.data_dir)
    log = tmp_path / "server.log"
    server = Server(env, log)
    try:
        printed = FIRST_RUN.search(log.read_text())
        assert printed, log.read_text()
        email, password, token = printed.groups()
        with httpx.Client(base_url=server.url, timeout=10, follow_redirects=True) as client:
            dashboard = sign_in(client, email, password)
            assert dashboard.status_code == 200  # redirected to the dashboard, signed in
            assert "Declare incident" in dashboard.text
            assert 'href="/admin"' in dashboard.text
        api = httpx.get(
            f"{server.url}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 200
    finally:
        server.stop()
    again = tmp_path / "again.log"
    Server(env, again).stop()
    assert "First run" not in again.read_text()
    assert password not in again.read_text()


def test_an_open_page_hears_of_a_change_made_elsewhere(settings: Settings, tmp_path: Path) -> None:
    env = warroom_env(settings.resolved_database_url(), settings.data_dir)
    log = tmp_path / "server.log"
    server = Server(env, log)
    try:
        printed = FIRST_RUN.search(log.read_text())
        assert printed
        email, password, token = printed.groups()
        bearer = {"Authorization": f"Bearer {token}"}
        body = {"title": "Checkout down", "severity": "P1"}
        made = httpx.post(f"{server.url}/api/v1/incidents", headers=bearer, json=body)
        incident = made.json()["id"]
        with httpx.Client(base_url=server.url, timeout=10, follow_redirects=True) as client:
            sign_in(client, email, password)
            with client.stream("GET", f"/live/incidents/{incident}") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.iter_lines()
                assert next(lines) == "retry: 2000"
                assert next(lines) == "event: hello"
                assert next(lines) == "data: 2"
                note = {"text": "rolled back"}
                added = httpx.post(
                    f"{server.url}/api/v1/incidents/{incident}/notes", headers=bearer, json=note
                )
                assert added.status_code == 201
                change = next(line for line in lines if line.startswith("event: change"))
                assert change == "event: change"
                assert next(lines) == "data: 3"
    finally:
        server.stop()
