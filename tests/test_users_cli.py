"""warroom user create | list | set | password, and what they change for signing in."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Cli
from warroom.auth import users
from warroom.errors import Unauthorized
from warroom.runtime import Runtime


def test_create_prints_a_generated_password_once_and_it_signs_in(
    cli: Cli, runtime: Runtime
) -> None:
    made = cli(
        "user", "create", "--email", "Ada@Example.com", "--name", "Ada", "--role", "commander"
    )
    assert made.code == 0, made.err
    password = re.search(r"password: (\S+)", made.out)
    assert password
    with runtime.transaction() as session:
        user = users.sign_in(session=session, email="ada@example.com", password=password.group(1))
        assert user.role == "commander"
    listed = cli("user", "list")
    assert "ada@example.com" in listed.out
    assert password.group(1) not in listed.out


def test_a_given_password_is_not_echoed(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_PASSWORD", "from the environment")
    made = cli("user", "create", "--email", "ben@example.com", "--name", "Ben")
    assert made.code == 0, made.err
    assert "password" not in made.out
    assert "from the environment" not in made.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email", "--name", "X"], "email"),
        (["--email", "x@example.com", "--name", "X", "--role", "king"], "role"),
        (["--email", "x@example.com", "--name", "X", "--time-zone", "Mars/Olympus"], "time_zone"),
        (["--email", "x@example.com", "--name", "X", "--password", "short"], "password"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli: Cli, args: list[str], message: str) -> None:
    result = cli("user", "create", *args)
    assert result.code == 2
    assert result.err.strip().count("\n") == 0
    assert message in result.err
    assert "x@example.com" not in cli("user", "list").out


def test_a_taken_email_is_a_conflict(cli: Cli) -> None:
    assert cli("user", "create", "--email", "ada@example.com", "--name", "Ada").code == 0
    again = cli("user", "create", "--email", "ADA@example.com", "--name", "Ada 2")
    assert again.code == 4
    assert "exists" in again.err


def test_set_and_password_change_what_signing_in_allows(cli: Cli, runtime: Runtime) -> None:
    cli("user", "create", "--email", "ada@example.com", "--name", "Ada", "--password", "p" * 12)
    assert cli("user", "set", "ada@example.com", "--role", "security").code == 0
    assert cli("user", "password", "ada@example.com", "--password", "q" * 12).code == 0
    with runtime.transaction() as session:
        assert users.sign_in(session=session, email="ada@example.com", password="q" * 12).role == (
            "security"
        )
        with pytest.raises(Unauthorized):
            users.sign_in(session=session, email="ada@example.com", password="p" * 12)
    assert cli("user", "set", "ada@example.com", "--disable").code == 0
    with runtime.transaction() as session, pytest.raises(Unauthorized):
        users.sign_in(session=session, email="ada@example.com", password="q" * 12)
    missing = cli("user", "set", "nobody@example.com", "--role", "viewer")
    assert missing.code == 3
