"""playbook show | validate | suggest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from warroom.cli.context import out, print_json
from warroom.errors import PlaybookError
from warroom.playbook.duration import format_duration
from warroom.playbook.loader import load_playbook
from warroom.playbook.schema import Playbook
from warroom.playbook.severity import Impact, suggest_severity
from warroom.settings import Settings

app = typer.Typer(
    help="The playbook: severities, roles, phases, templates, runbooks.", no_args_is_help=True
)

FileOption = Annotated[Path | None, typer.Option("--file", help="A playbook YAML file.")]


def _load(path: Path | None) -> Playbook:
    return load_playbook(path or Settings().playbook)


@app.command("validate")
def validate(path: Annotated[Path, typer.Argument(help="The playbook YAML to check.")]) -> None:
    """Check a playbook; every bad field is named by its path."""
    try:
        playbook = load_playbook(path)
    except PlaybookError as exc:
        for problem in exc.problems:
            out.print(f"{path}: {problem}", markup=False)
        out.print(f"{len(exc.problems)} problem(s)", markup=False)
        raise SystemExit(2) from None
    phases = sum(len(p) for p in playbook.phases.values())
    out.print(
        f"{path}: valid ({len(playbook.severities)} severities, {phases} phases, "
        f"{len(playbook.runbooks)} runbooks)",
        markup=False,
    )


@app.command("show")
def show(
    file: FileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Print the playbook in use (or the one in --file)."""
    playbook = _load(file)
    if as_json:
        print_json(playbook.model_dump(mode="json"))
        return
    out.print(f"[bold]{playbook.name}[/]")
    severities = Table("Severity", "Name", "Criteria", "Updates every", title="Severities")
    for s in playbook.severities:
        severities.add_row(s.key, s.name, "; ".join(s.criteria), format_duration(s.update_every))
    out.print(severities)
    roles = Table("Role", "Team", "Held by", "Required for", title="Roles")
    for r in playbook.roles:
        roles.add_row(r.name, r.team, r.held_by, ", ".join(r.required_for) or "as needed")
    out.print(roles)
    for type_key, by_severity in playbook.plans.items():
        for severity in by_severity:
            _print_phases(playbook, type_key, severity)
    out.print(f"Templates: {', '.join(t.name for t in playbook.templates)}", markup=False)
    out.print(f"Contacts: {', '.join(c.name for c in playbook.contacts)}", markup=False)
    out.print(f"Runbooks: {', '.join(r.key for r in playbook.runbooks)}", markup=False)
    stages = [f"{s.name} ({_window(s.window.start, s.window.end)})" for s in playbook.post_incident]
    out.print(f"Post-incident: {', '.join(stages)}", markup=False)


def _window(start: timedelta, end: timedelta | None) -> str:
    return f"{format_duration(start)}–{format_duration(end) if end is not None else ''}"


def _print_phases(playbook: Playbook, type_key: str, severity: str) -> None:
    table = Table("Phase", "Window", "Tasks", title=f"{type_key} {severity}")
    for phase in playbook.phases_for(type_key, severity):
        table.add_row(
            phase.name,
            _window(phase.window.start, phase.window.end),
            "\n".join(t.title for t in phase.tasks),
        )
    out.print(table)


@app.command("suggest")
def suggest(
    outage: Annotated[str, typer.Option(help="none, partial or complete.")] = "none",
    breach: Annotated[bool, typer.Option(help="Data was breached.")] = False,
    security: Annotated[bool, typer.Option(help="It is a security incident.")] = False,
    users: Annotated[float, typer.Option(help="Percent of users affected.")] = 0,
    file: FileOption = None,
) -> None:
    """Suggest a severity from the impact."""
    playbook = _load(file)
    impact = Impact.model_validate(
        {"outage": outage, "breach": breach, "security": security, "users_affected_percent": users}
    )
    key = suggest_severity(playbook, impact)
    severity = playbook.severity(key)
    out.print(f"{key} ({severity.name if severity else key})", markup=False)
