"""people add | list | import | export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from warroom.cli import records
from warroom.cli.context import fail, out, print_json, runtime
from warroom.people import service
from warroom.people.schemas import NotificationRule, PersonCreate, PersonRead

app = typer.Typer(help="The people directory.", no_args_is_help=True)
RULE_OPTION = typer.Option(
    "--rule",
    help="How a page reaches them: CHANNEL or CHANNEL@DELAY (sms@2m); repeat for more.",
)


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone, E.164 (+4930123456).")] = None,
    chat_id: Annotated[str | None, typer.Option(help="Chat user id, e.g. Slack U123.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC",
    rule: Annotated[list[str] | None, RULE_OPTION] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Add a person."""
    data = PersonCreate(
        name=name,
        email=email,
        phone=phone,
        chat_id=chat_id,
        timezone=timezone,
        notification_rules=rule or [],
    )
    rt = runtime()
    with rt.transaction() as session:
        person = PersonRead.model_validate(
            service.add(session=session, data=data, now=rt.clock.now(), channels=rt.channels)
        )
    if as_json:
        print_json(person)
    else:
        out.print(f"added person {person.id}: {person.name}", markup=False)


@app.command("list")
def list_people(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """List everyone."""
    rt = runtime()
    with rt.read() as session:
        people = [PersonRead.model_validate(p) for p in service.list_people(session=session)]
    if as_json:
        print_json(people)
        return
    table = Table("ID", "Name", "Email", "Phone", "Chat", "Time zone", "Paged by")
    for p in people:
        rules = ", ".join(r.shorthand() for r in p.notification_rules) or "every channel"
        cells = (p.name, p.email or "", p.phone or "", p.chat_id or "", p.timezone, rules)
        table.add_row(str(p.id), *map(escape, cells))
    out.print(table)


@app.command("import")
def import_people(
    path: Annotated[Path, typer.Argument(help="A .yaml/.yml or .csv file.")],
) -> None:
    """Import people from YAML (a list of mappings) or CSV (a header row); all or nothing."""
    people = records.parse(path, "people", PersonCreate)
    rt = runtime()
    with rt.transaction() as session:
        added = service.add_many(
            session=session, people=people, now=rt.clock.now(), channels=rt.channels
        )
    out.print(f"imported {len(added)} people", markup=False)


FIELDS = ("name", "email", "phone", "chat_id", "timezone", "notification_rules")


@app.command("rules")
def rules(
    person: Annotated[str, typer.Argument(help="Id, email or exact name.")],
    rule: Annotated[list[str] | None, RULE_OPTION] = None,
    clear: Annotated[bool, typer.Option(help="Remove every rule (page on every channel).")] = False,
) -> None:
    """Show how pages reach a person, or replace it with the --rule options given."""
    parsed: list[NotificationRule] = []
    for i, text in enumerate(rule or []):
        try:
            parsed.append(NotificationRule.model_validate(text))
        except ValueError as exc:
            fail(f"--rule {i + 1} ({text!r}): {records.first_error(exc)}")
    rt = runtime()
    with rt.transaction() as session:
        found = service.find(session=session, ref=person)
        if parsed or clear:
            service.set_rules(person=found, rules=parsed, channels=rt.channels)
        read = PersonRead.model_validate(found)
    shown = [f"{r.channel} after {r.after_seconds}s" for r in read.notification_rules]
    out.print(f"{read.name}: " + ("; ".join(shown) or "every paging channel at once"), markup=False)


@app.command("export")
def export_people(
    fmt: Annotated[str, typer.Option("--format", help="yaml or csv.")] = "yaml",
) -> None:
    """Print everyone as YAML or CSV, in the shape `people import` reads back."""
    records.check_format(fmt)
    rt = runtime()
    with rt.read() as session:
        rows = [_record(PersonRead.model_validate(p)) for p in service.list_people(session=session)]
    records.write(rows, FIELDS, fmt, "people")


def _record(person: PersonRead) -> dict[str, Any]:
    record: dict[str, Any] = {f: getattr(person, f) for f in FIELDS[:-1]}
    record["notification_rules"] = ";".join(r.shorthand() for r in person.notification_rules)
    return record
