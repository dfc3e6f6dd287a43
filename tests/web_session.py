"""Signing a browser session in, for tests of the server-rendered pages."""

from __future__ import annotations

import re
from functools import cache

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from warroom.auth.models import User
from warroom.auth.policy import ROLES
from warroom.runtime import Runtime

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The first CSRF token in a page's forms."""
    found = CSRF.search(html)
    assert found, "no csrf input on the page"
    return found.group(1)


@cache
def _password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)


def sign_in(
    client: TestClient, runtime: Runtime, role: str = "viewer", email: str | None = None
) -> str:
    """Create a user with ``role`` and sign ``client`` in as them through the login form;
    returns the session's CSRF token, as the pages' forms carry it."""
    email = email or f"{role}@example.com"
    assert role in ROLES, role
    with runtime.transaction() as session:  # the row as users.create_user writes it, but
        # with PASSWORD hashed once per test process: argon2 is slow on purpose
        session.add(
            User(
                email=email,
                name=role.title(),
                role=role,
                password_hash=_password_hash(),
                time_zone="UTC",
                created_at=runtime.clock.now(),
            )
        )
    login = client.get("/login")
    assert login.status_code == 200, login.text
    form = {"email": email, "password": PASSWORD, "csrf": csrf_of(login.text), "next": "/"}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)
