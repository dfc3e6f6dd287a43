"""contacts add | list | import | export: external contacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from warroom.cli import records
from warroom.cli.context import out, print_json, runtime
from warroom.people import contacts
from warroom.people.contacts import FIELDS, ContactCreate, ContactRead

app = typer.Typer(
    help="External contacts: support, incident response, legal, PR.", no_args_is_help=True
)


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="Unique name, e.g. 'Hosting provider support'.")],
    kind: Annotated[
        str, typer.Option(help="support, incident-response, legal, pr, vendor, regulator, other.")
    ],
    organisation: Annotated[str, typer.Option(help="Company or firm.")] = "",
    phone: Annotated[str | None, typer.Option(help="Phone, E.164 (+18005550100).")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    url: Annotated[str | None, typer.Option(help="Web page or portal.")] = None,
    notes: Annotated[str, typer.Option(help="Contract number, hours, what to say.")] = "",
) -> None:
    """Add an external contact (at least one of phone, email and url)."""
    data = ContactCreate.model_validate(
        {
            "name": name,
            "kind": kind,
            "organisation": organisation,
            "phone": phone,
            "email": email,
            "url": url,
            "notes": notes,
        }
    )
    rt = runtime()
    with rt.transaction() as session:
        [added] = contacts.add_many(session=session, contacts=[data], now=rt.clock.now())
        contact_id = added.id
    out.print(f"added contact {contact_id}: {data.name}", markup=False)


@app.command("list")
def list_contacts(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Every external contact, by kind."""
    rt = runtime()
    with rt.read() as session:
        rows = [
            ContactRead.model_validate(c)
            for c in contacts.list_contacts(session=session, kind=kind)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("ID", "Kind", "Name", "Organisation", "Phone", "Email", "URL")
    for c in rows:
        cells = (c.kind, c.name, c.organisation, c.phone or "", c.email or "", c.url or "")
        table.add_row(str(c.id), *map(escape, cells))
    out.print(table)


@app.command("import")
def import_contacts(
    path: Annotated[Path, typer.Argument(help="A .yaml/.yml or .csv file.")],
) -> None:
    """Import contacts from YAML (a list, or a mapping with `contacts:`) or CSV; all or
    nothing."""
    data = records.parse(path, "contacts", ContactCreate)
    rt = runtime()
    with rt.transaction() as session:
        added = contacts.add_many(session=session, contacts=data, now=rt.clock.now())
    out.print(f"imported {len(added)} contacts", markup=False)


@app.command("export")
def export_contacts(
    fmt: Annotated[str, typer.Option("--format", help="yaml or csv.")] = "yaml",
) -> None:
    """Print every contact as YAML or CSV, in the shape `contacts import` reads back."""
    records.check_format(fmt)
    rt = runtime()
    with rt.read() as session:
        found = contacts.list_contacts(session=session)
        rows = [{f: getattr(c, f) for f in FIELDS} for c in found]
    records.write(rows, FIELDS, fmt, "contacts")
