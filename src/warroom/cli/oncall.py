"""schedule create | list | show | override | unoverride, and oncall who | calendar."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from warroom.cli.context import actor, fail, out, print_json, read_yaml_mapping, runtime
from warroom.oncall import feeds, service
from warroom.oncall.schemas import OverrideCreate, ScheduleCreate
from warroom.people import service as people
from warroom.people.schemas import PersonRead

schedule_app = typer.Typer(help="On-call schedules.", no_args_is_help=True)
oncall_app = typer.Typer(help="Who is on call.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="JSON output.")]


def instant(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 instant with its offset (``Z`` for UTC); a one-line error otherwise."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        fail(f"{option}: {text!r} is not a time like 2027-03-28T09:00+02:00")
    if value.tzinfo is None:
        fail(f"{option}: {text!r} needs an offset, e.g. 2027-03-28T09:00+02:00 or ...Z")
    return value


def required(text: str, option: str) -> datetime:
    value = instant(text, option)
    assert value is not None
    return value


def _definition(path: Path) -> ScheduleCreate:
    return ScheduleCreate.model_validate(
        read_yaml_mapping(path, "a mapping with name, timezone and layers")
    )


def _names(people: list[PersonRead]) -> str:
    return ", ".join(p.name for p in people) or "nobody"


@schedule_app.command("create")
def create(
    path: Annotated[Path, typer.Argument(help="The schedule as YAML (see docs/oncall.md).")],
    replace: Annotated[bool, typer.Option(help="Replace the schedule of that name.")] = False,
) -> None:
    """Create a schedule from a YAML file (or replace one with --replace)."""
    data = _definition(path)
    rt = runtime()
    now = rt.clock.now()
    with rt.transaction() as session:
        if replace:
            schedule = service.find(session=session, ref=data.name)
            service.replace(session=session, schedule=schedule, data=data, now=now)
        else:
            schedule = service.create(session=session, data=data, now=now)
        holes = service.gaps(session=session, schedule=schedule, now=now)
        schedule_id = schedule.id
    verb = "replaced" if replace else "created"
    out.print(f"{verb} schedule {schedule_id}: {data.name}", markup=False)
    for hole in holes[:10]:
        out.print(
            f"  gap: nobody on call {hole.start:%Y-%m-%d %H:%M} to {hole.end:%Y-%m-%d %H:%M} UTC"
        )
    if len(holes) > 10:
        out.print(f"  ... and {len(holes) - 10} more gaps in the next 4 weeks")


@schedule_app.command("list")
def list_schedules(as_json: JSON = False) -> None:
    """Every schedule and who is on call on it now."""
    rt = runtime()
    now = rt.clock.now()
    with rt.read() as session:
        rows = [
            service.on_call_read(session=session, schedule=schedule, at=now)
            for schedule in service.list_schedules(session=session)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("Schedule", "On call now", "Decided by")
    for row in rows:
        table.add_row(escape(row.schedule), escape(_names(row.people)), escape(row.source))
    out.print(table)


@schedule_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Schedule name or id.")],
    days: Annotated[int, typer.Option(min=1, max=92, help="How many days ahead.")] = 7,
    start: Annotated[str | None, typer.Option(help="From (ISO 8601 with offset).")] = None,
    as_json: JSON = False,
) -> None:
    """Who is on call, shift by shift, with gaps."""
    rt = runtime()
    since = instant(start, "--start") or rt.clock.now()
    with rt.read() as session:
        schedule = service.find(session=session, ref=name)
        rows = service.span_reads(
            session=session, schedule=schedule, start=since, end=since + timedelta(days=days)
        )
        zone = schedule.timezone
    if as_json:
        print_json(rows)
        return
    title = f"{escape(name)} ({zone})"
    table = Table("From (UTC)", "To (UTC)", "On call", "Decided by", title=title)
    for row in rows:
        table.add_row(
            f"{row.start:%Y-%m-%d %H:%M}",
            f"{row.end:%Y-%m-%d %H:%M}",
            escape(_names(row.people)),
            escape(row.source or "(gap)"),
        )
    out.print(table)


@schedule_app.command("override")
def override(
    name: Annotated[str, typer.Argument(help="Schedule name or id.")],
    person: Annotated[str, typer.Option(help="Who is on call: id, email or name.")],
    start: Annotated[str, typer.Option(help="From (ISO 8601 with offset).")],
    end: Annotated[str, typer.Option(help="Until (ISO 8601 with offset).")],
    replaces: Annotated[str | None, typer.Option(help="Only instead of this person.")] = None,
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Put someone on call for a while (instead of everyone, or of --replaces)."""
    data = OverrideCreate(
        person=person,
        replaces=replaces,
        starts_at=required(start, "--start"),
        ends_at=required(end, "--end"),
        note=note,
    )
    rt = runtime()
    with rt.transaction() as session:
        schedule = service.find(session=session, ref=name)
        row = service.add_override(
            session=session, schedule=schedule, data=data, actor=actor(), now=rt.clock.now()
        )
        override_id = row.id
    out.print(f"added override {override_id} to {name}", markup=False)


@schedule_app.command("unoverride")
def unoverride(
    name: Annotated[str, typer.Argument(help="Schedule name or id.")],
    override_id: Annotated[int, typer.Argument(help="The override's id.", min=1)],
) -> None:
    """Remove an override."""
    rt = runtime()
    with rt.transaction() as session:
        schedule = service.find(session=session, ref=name)
        service.remove_override(session=session, schedule=schedule, override_id=override_id)
    out.print(f"removed override {override_id} from {name}", markup=False)


@oncall_app.command("who")
def who(
    schedule: Annotated[str | None, typer.Option(help="Only this schedule (name or id).")] = None,
    at: Annotated[str | None, typer.Option(help="When (ISO 8601 with offset); now.")] = None,
    as_json: JSON = False,
) -> None:
    """Who is on call now, or at --at."""
    rt = runtime()
    when = instant(at, "--at") or rt.clock.now()
    with rt.read() as session:
        chosen = (
            [service.find(session=session, ref=schedule)]
            if schedule
            else list(service.list_schedules(session=session))
        )
        rows = [service.on_call_read(session=session, schedule=s, at=when) for s in chosen]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no schedules yet: warroom schedule create FILE")
        return
    for row in rows:
        contact = "; ".join(f"{p.name} <{p.email or p.phone or 'no contact'}>" for p in row.people)
        out.print(f"{row.schedule}: {contact or 'nobody'}", markup=False)


@oncall_app.command("calendar")
def calendar_link(
    schedule: Annotated[str | None, typer.Option(help="A schedule (name or id).")] = None,
    person: Annotated[str | None, typer.Option(help="A person (id, email or name).")] = None,
) -> None:
    """Print the secret iCalendar link of a schedule's or a person's shifts."""
    if (schedule is None) == (person is None):
        fail("give exactly one of --schedule and --person")
    rt = runtime()
    with rt.read() as session:
        if schedule is not None:
            kind, subject_id = "schedule", service.find(session=session, ref=schedule).id
        else:
            kind, subject_id = "person", people.find(session=session, ref=person or "").id
    url = feeds.link(
        base_url=rt.settings.resolved_base_url(),
        secret_key=rt.secret_key,
        kind=kind,
        subject_id=subject_id,
    )
    out.print(url, markup=False)
