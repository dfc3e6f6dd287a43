"""Signing a browser session in, for tests of the server-rendered pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from warroom.auth import users
from warroom.runtime import Runtime

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The first CSRF token in a page's forms."""
    found = CSRF.search(html)
    assert found, "no csrf input on the page"
    return found.group(1)


def sign_in(
    client: TestClient, runtime: Runtime, role: str = "viewer", email: str | None = None
) -> str:
    """Create a user with ``role`` and sign ``client`` in as them through the login form;
    returns the session's CSRF token, as the pages' forms carry it."""
    email = email or f"{role}@example.com"
    with runtime.transaction() as session:
        users.create_user(
            session=session,
            email=email,
            name=role.title(),
            role=role,
            password=PASSWORD,
            now=runtime.clock.now(),
        )
    login = client.get("/login")
    assert login.status_code == 200, login.text
    form = {"email": email, "password": PASSWORD, "csrf": csrf_of(login.text), "next": "/"}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
