"""Rich views of incidents and timelines for people at a terminal."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from warroom.cli.context import out
from warroom.incidents.schemas import IncidentRead, TimelineEntryRead

TASK_MARK = {"open": "[ ]", "done": "[x]", "skipped": "[-]"}


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
        table.add_row(
            str(i.id),
            i.severity,
            i.type,
            i.status,
            i.title,
            i.current_phase or "",
            when(i.next_due_at),
            when(i.created_at),
        )
    out.print(table)


def incident_detail(incident: IncidentRead) -> None:
    out.print(f"[bold]#{incident.id} {incident.title}[/]", highlight=False)
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
        roles.add_row(r.name, r.team, holder)
    out.print(roles)
    for phase in incident.phases:
        table = Table(
            "ID",
            "",
            "Task",
            "Section",
            title=(
                f"{phase.name} [{phase.key}] {phase.state} · starts {when(phase.starts_at)}"
                f" · due {when(phase.due_at)}"
            ),
        )
        for t in phase.tasks:
            note = f" ({t.skip_reason})" if t.skip_reason else ""
            table.add_row(str(t.id), TASK_MARK[t.status], f"{t.title}{note}", t.section)
        out.print(table)


def timeline_table(entries: list[TimelineEntryRead]) -> None:
    table = Table("#", "At", "Actor", "Kind", "Details")
    for e in entries:
        details = ", ".join(f"{k}={v}" for k, v in e.data.items() if k != "phases")
        table.add_row(str(e.seq), when(e.at), e.actor, e.kind, details[:200])
    out.print(table)
