"""user create | list | set | password: who signs in to the web app."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from warroom.auth import sessions, users
from warroom.auth.policy import ROLES
from warroom.cli.context import out, runtime

app = typer.Typer(help="Users who sign in to the web app.", no_args_is_help=True)
PASSWORD_ENV = "WARROOM_PASSWORD"  # noqa: S105 - the name of a variable, not a secret
ROLE_HELP = ", ".join(ROLES) + "."


def _password(given: str | None) -> tuple[str, bool]:
    """The password to set, and whether it was generated (and so must be shown)."""
    password = given or os.environ.get(PASSWORD_ENV)
    return (password, False) if password else (users.generated_password(), True)


@app.command("create")
def create(
    email: Annotated[str, typer.Option(help="Signs in with this address.")],
    name: Annotated[str, typer.Option(help="Shown on pages and the timeline.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "responder",
    time_zone: Annotated[str, typer.Option(help="Times on pages are shown in it.")] = "UTC",
    password: Annotated[
        str | None,
        typer.Option(help=f"At least 12 characters (or ${PASSWORD_ENV}); generated if absent."),
    ] = None,
) -> None:
    """Create a user; a generated password is printed once."""
    secret, generated = _password(password)
    rt = runtime()
    with rt.transaction() as session:
        user = users.create_user(
            session=session,
            email=email,
            name=name,
            role=role,
            password=secret,
            time_zone=time_zone,
            now=rt.clock.now(),
        )
    out.print(f"created user {user.id} {user.email} ({user.role})", markup=False)
    if generated:
        out.print(f"password: {secret}", markup=False)


@app.command("list")
def list_users() -> None:
    """Every user with their role."""
    rt = runtime()
    with rt.read() as session:
        rows = users.list_users(session=session)
    table = Table("Id", "Email", "Name", "Role", "Time zone", "Enabled", title="Users")
    for u in rows:
        enabled = "no" if u.disabled_at else "yes"
        table.add_row(str(u.id), escape(u.email), escape(u.name), u.role, u.time_zone, enabled)
    out.print(table)


@app.command("set")
def set_user(
    user: Annotated[str, typer.Argument(help="Id or email.")],
    role: Annotated[str | None, typer.Option(help=ROLE_HELP)] = None,
    time_zone: Annotated[str | None, typer.Option(help="An IANA time zone.")] = None,
    disable: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Refuse or allow sign-in.")
    ] = None,
) -> None:
    """Change a user's role, time zone or whether they may sign in."""
    rt = runtime()
    with rt.transaction() as session:
        row = users.find_user(session=session, ref=user)
        users.update_user(session=session, user=row, role=role, time_zone=time_zone)
        if disable is not None:
            row.disabled_at = rt.clock.now() if disable else None
        if role or disable:
            sessions.close_all(session=session, user_id=row.id)
    out.print(f"user {row.email}: {row.role}, {row.time_zone}", markup=False)


@app.command("password")
def password(
    user: Annotated[str, typer.Argument(help="Id or email.")],
    new: Annotated[
        str | None, typer.Option("--password", help=f"The new one (or ${PASSWORD_ENV}).")
    ] = None,
) -> None:
    """Set a user's password (generated and printed if not given); signs them out."""
    secret, generated = _password(new)
    rt = runtime()
    with rt.transaction() as session:
        row = users.find_user(session=session, ref=user)
        users.set_password(session=session, user=row, password=secret)
        sessions.close_all(session=session, user_id=row.id)
    out.print(f"password of {row.email} set", markup=False)
    if generated:
        out.print(f"password: {secret}", markup=False)
