"""incident declare | list | show | ack | mitigate | resolve | close | reopen | update |
assign | unassign | task | note | timeline | verify."""

from __future__ import annotations

from typing import Annotated

import typer

from warroom.cli import render
from warroom.cli.context import actor, fail, out, print_json, runtime
from warroom.db import MAX_ID
from warroom.incidents import changes, lifecycle, service, timeline, views, work
from warroom.incidents.schemas import (
    IncidentCreate,
    IncidentFilter,
    IncidentRead,
    IncidentUpdate,
    TimelineEntryRead,
)
from warroom.paging import escalation
from warroom.people import service as people

app = typer.Typer(help="Declare and work incidents.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="JSON output.")]
IncidentId = Annotated[int, typer.Argument(help="The incident's id.", min=1, max=MAX_ID)]


def _show(incident_id: int, as_json: bool) -> IncidentRead:
    rt = runtime()
    with rt.read() as session:
        incident = service.get(session=session, incident_id=incident_id)
        read = views.read_one(
            session=session, playbook=rt.playbook, incident=incident, now=rt.clock.now()
        )
    if as_json:
        print_json(read)
    else:
        render.incident_detail(read)
    return read


@app.command("declare")
def declare(
    title: Annotated[str, typer.Option(help="What is wrong, in a line.")],
    severity: Annotated[str, typer.Option(help="P0, P1, P2 or P3.")],
    type_: Annotated[str, typer.Option("--type", help="operational or security.")] = "operational",
    summary: Annotated[str, typer.Option(help="What is known so far.")] = "",
    source: Annotated[str, typer.Option(help="Where it was detected.")] = "cli",
    escalate: Annotated[
        str | None, typer.Option(help="Page at once with this escalation policy.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Declare an incident; its phases start their clocks now."""
    data = IncidentCreate(
        title=title,
        severity=severity,
        type=type_,
        summary=summary,
        source=source,
        escalation_policy=escalate,
    )
    rt = runtime()
    with rt.transaction() as session:
        incident, _ = service.declare(
            session=session, playbook=rt.playbook, data=data, actor=actor(), clock=rt.clock
        )
        if escalate:
            escalation.start(
                session=session,
                incident=incident,
                policy_ref=escalate,
                actor=actor(),
                now=rt.clock.now(),
                field="escalation_policy",
            )
        incident_id = incident.id
    if not as_json:
        out.print(f"declared incident {incident_id}", markup=False)
    _show(incident_id, as_json)


@app.command("list")
def list_incidents(
    status: Annotated[list[str] | None, typer.Option(help="Filter; repeatable.")] = None,
    severity: Annotated[list[str] | None, typer.Option(help="Filter; repeatable.")] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", help="Filter; repeatable.")] = None,
    q: Annotated[str | None, typer.Option(help="Text in title or summary.")] = None,
    limit: Annotated[int, typer.Option(help="Page size.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many.")] = 0,
    created_after: Annotated[
        str | None, typer.Option(help="Declared at or after (ISO 8601, with offset).")
    ] = None,
    created_before: Annotated[
        str | None, typer.Option(help="Declared before (ISO 8601, with offset).")
    ] = None,
    as_json: Json = False,
) -> None:
    """List incidents, newest first."""
    filters = IncidentFilter.model_validate(
        {
            "status": status,
            "severity": severity,
            "type": type_,
            "q": q,
            "limit": limit,
            "offset": offset,
            "created_after": created_after,
            "created_before": created_before,
        }
    )
    rt = runtime()
    service.check_filters(rt.playbook, filters)
    with rt.read() as session:
        items, total = service.list_incidents(session=session, filters=filters)
        reads = views.read_many(
            session=session, playbook=rt.playbook, incidents=items, now=rt.clock.now()
        )
    if as_json:
        print_json(
            {
                "items": [r.model_dump(mode="json") for r in reads],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )
    else:
        render.incident_table(reads, total)


@app.command("show")
def show(incident_id: IncidentId, as_json: Json = False) -> None:
    """Show an incident: roles, phases with deadlines, and checklists."""
    _show(incident_id, as_json)


def _transition_command(action: lifecycle.Action, name: str) -> None:
    def command(
        incident_id: IncidentId,
        note: Annotated[str, typer.Option(help="Why, for the timeline.")] = "",
        as_json: Json = False,
    ) -> None:
        rt = runtime()
        with rt.transaction() as session:
            incident = changes.transition(
                session=session,
                playbook=rt.playbook,
                incident_id=incident_id,
                action=action,
                actor=actor(),
                clock=rt.clock,
                note=note,
            )
            new_status = incident.status
        if as_json:
            _show(incident_id, True)
        else:
            out.print(f"incident {incident_id} is {new_status}", markup=False)

    command.__doc__ = f"{action.capitalize()} an incident."
    app.command(name)(command)


for _action, _name in (
    ("acknowledge", "ack"),
    ("mitigate", "mitigate"),
    ("resolve", "resolve"),
    ("close", "close"),
    ("reopen", "reopen"),
):
    _transition_command(_action, _name)  # type: ignore[arg-type]


@app.command("update")
def update(
    incident_id: IncidentId,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    summary: Annotated[str | None, typer.Option(help="New summary.")] = None,
    severity: Annotated[str | None, typer.Option(help="New severity; re-plans phases.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="New type; re-plans phases.")] = None,
    reason: Annotated[str, typer.Option(help="Why, for the timeline.")] = "",
    as_json: Json = False,
) -> None:
    """Change title, summary, severity or type."""
    edits = IncidentUpdate(
        title=title, summary=summary, severity=severity, type=type_, reason=reason
    )
    rt = runtime()
    with rt.transaction() as session:
        changes.update(
            session=session,
            playbook=rt.playbook,
            incident_id=incident_id,
            changes=edits,
            actor=actor(),
            clock=rt.clock,
        )
    _show(incident_id, as_json)


@app.command("assign")
def assign(
    incident_id: IncidentId,
    role: Annotated[str, typer.Argument(help="Role key, e.g. incident-commander.")],
    person: Annotated[str, typer.Argument(help="Person id, email or name.")],
) -> None:
    """Give a response role to a person."""
    rt = runtime()
    with rt.transaction() as session:
        who = people.find(session=session, ref=person)
        work.assign_role(
            session=session,
            playbook=rt.playbook,
            incident_id=incident_id,
            role_key=role,
            person_id=who.id,
            actor=actor(),
            clock=rt.clock,
        )
        name = who.name
    out.print(f"{name} is {role} of incident {incident_id}", markup=False)


@app.command("unassign")
def unassign(
    incident_id: IncidentId, role: Annotated[str, typer.Argument(help="Role key.")]
) -> None:
    """Leave a response role unheld."""
    rt = runtime()
    with rt.transaction() as session:
        work.unassign_role(
            session=session,
            incident_id=incident_id,
            role_key=role,
            actor=actor(),
            clock=rt.clock,
        )
    out.print(f"role {role} of incident {incident_id} is unassigned", markup=False)


@app.command("task")
def task(
    incident_id: IncidentId,
    task_ref: Annotated[
        str, typer.Argument(metavar="TASK", help="Task id, key or phase-key/task-key.")
    ],
    skip: Annotated[str | None, typer.Option(help="Skip it, with this reason.")] = None,
    reopen: Annotated[bool, typer.Option(help="Mark it open again.")] = False,
) -> None:
    """Tick off a task (default), skip it with a reason, or reopen it."""
    if skip is not None and reopen:
        fail("choose one of --skip and --reopen")
    new_status = "skipped" if skip is not None else "open" if reopen else "done"
    rt = runtime()
    with rt.transaction() as session:
        row = work.set_task(
            session=session,
            incident_id=incident_id,
            task_ref=task_ref,
            status=new_status,
            actor=actor(),
            clock=rt.clock,
            reason=skip or "",
        )
        title = row.title
    out.print(f"task {title!r} is {new_status}", markup=False)


@app.command("note")
def note(incident_id: IncidentId, text: Annotated[str, typer.Argument(help="The note.")]) -> None:
    """Add a note to the timeline."""
    rt = runtime()
    with rt.transaction() as session:
        entry = work.add_note(
            session=session, incident_id=incident_id, text=text, actor=actor(), clock=rt.clock
        )
        seq = entry.seq
    out.print(f"note added as timeline entry {seq}", markup=False)


@app.command("timeline")
def show_timeline(incident_id: IncidentId, as_json: Json = False) -> None:
    """Every timeline entry: when, who, what."""
    rt = runtime()
    with rt.read() as session:
        service.get(session=session, incident_id=incident_id)
        entries = [
            TimelineEntryRead.model_validate(e)
            for e in timeline.entries(session=session, incident_id=incident_id)
        ]
    if as_json:
        print_json(entries)
    else:
        render.timeline_table(entries)


@app.command("verify")
def verify(incident_id: IncidentId) -> None:
    """Check the timeline's hash chain; exit 1 naming the first bad entry."""
    rt = runtime()
    with rt.read() as session:
        incident = service.get(session=session, incident_id=incident_id)
        verdict = timeline.verify(session=session, incident=incident)
    if not verdict.ok:
        fail(f"timeline of incident {incident_id} is broken: {verdict.problem}", code=1)
    out.print(
        f"timeline of incident {incident_id} is intact ({verdict.checked} entries)", markup=False
    )
