"""Rich views of incidents and timelines for people at a terminal."""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from rich.table import Table

from warroom.cli.context import out
from warroom.incidents.schemas import IncidentRead, TimelineEntryRead

TASK_MARK = {"open": "\\[ ]", "done": "\\[x]", "skipped": "\\[-]"}


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def incident_table(incidents: list[IncidentRead], total: int) -> None:
    table = Table(
        "ID",
        "Sev",
        "Type",
        "Status",
        "Title",
        "Phase",
        "Next due",
        "Declared",
        caption=f"{len(incidents)} of {total}",
    )
    for i in incidents:
        cells = (i.severity, i.type, i.status, i.title, i.current_phase or "")
        table.add_row(str(i.id), *map(escape, cells), when(i.next_due_at), when(i.created_at))
    out.print(table)


def incident_detail(incident: IncidentRead) -> None:
    out.print(f"[bold]#{incident.id} {escape(incident.title)}[/]", highlight=False)
    out.print(
        f"{incident.severity} · {incident.type} · {incident.status} · declared "
        f"{when(incident.created_at)} by {incident.created_by}",
        markup=False,
    )
    if incident.summary:
        out.print(incident.summary, markup=False)
    out.print(f"next: {', '.join(incident.allowed_actions) or 'nothing'}", markup=False)
    roles = Table("Role", "Team", "Held by", title="Roles")
    for r in incident.roles:
        holder = r.person.name if r.person else ("UNASSIGNED" if r.required else "")
        roles.add_row(escape(r.name), r.team, escape(holder))
    out.print(roles)
    for phase in incident.phases:
        table = Table(
            "ID",
            "",
            "Task",
            "Section",
            title=(
                f"{escape(phase.name)} \\[{escape(phase.key)}] {phase.state}"
                f" · starts {when(phase.starts_at)} · due {when(phase.due_at)}"
            ),
        )
        for t in phase.tasks:
            note = f" ({t.skip_reason})" if t.skip_reason else ""
            table.add_row(
                str(t.id), TASK_MARK[t.status], escape(f"{t.title}{note}"), escape(t.section)
            )
        out.print(table)


def timeline_table(entries: list[TimelineEntryRead]) -> None:
    table = Table("#", "At", "Actor", "Kind", "Details")
    for e in entries:
        details = ", ".join(f"{k}={v}" for k, v in e.data.items() if k != "phases")
        table.add_row(str(e.seq), when(e.at), escape(e.actor), e.kind, escape(details[:200]))
    out.print(table)
