"""The ``warroom`` command line: thin commands over the services."""

from __future__ import annotations

import logging
import os
import sys

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from warroom.cli import (
    admin,
    alerts,
    channels,
    contacts,
    incident,
    messages,
    oncall,
    paging,
    people,
    playbook,
    teams,
    users,
)
from warroom.cli.context import err, out
from warroom.errors import WarroomError
from warroom.playbook.loader import format_path

app = typer.Typer(
    help="warroom: incident and emergency response.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
admin.register(app)
app.add_typer(playbook.app, name="playbook")
app.add_typer(people.app, name="people")
app.add_typer(users.app, name="user")
app.add_typer(contacts.app, name="contacts")
app.add_typer(incident.app, name="incident")
app.add_typer(alerts.integration_app, name="integration")
app.add_typer(alerts.alert_app, name="alert")
app.add_typer(alerts.silence_app, name="silence")
app.add_typer(oncall.schedule_app, name="schedule")
app.add_typer(oncall.oncall_app, name="oncall")
app.add_typer(teams.app, name="team")
app.add_typer(channels.app, name="channel")
app.add_typer(paging.app, name="policy")
incident.app.command("escalate")(paging.escalate)
incident.app.command("page")(paging.page)
incident.app.command("message")(messages.message)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv``; returns the exit code. Errors become one line on stderr."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():  # honour the width asked for, even when output is not a terminal
        out.width = err.width = int(columns)
    try:
        app(args=argv, prog_name="warroom")  # usage errors exit through SystemExit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except WarroomError as exc:
        err.print(f"error: {exc.message}", markup=False)
        return exc.exit_code
    except ValidationError as exc:
        first = exc.errors()[0]
        field = format_path(tuple(first["loc"])) or "input"
        err.print(
            f"error: {field}: {str(first['msg']).removeprefix('Value error, ')}", markup=False
        )
        return 2
    except OperationalError as exc:
        err.print(f"error: the database is not reachable: {exc.orig}", markup=False)
        return 6
    return 0


def main() -> None:
    """The console script."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.exit(run())
