"""policy create | list | show, incident escalate and incident page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from warroom.cli.context import actor, out, print_json, read_yaml_mapping, runtime
from warroom.incidents import assembly
from warroom.incidents.service import get, lock_row
from warroom.paging import escalation, policies
from warroom.paging.policies import PolicyCreate, PolicyRead

app = typer.Typer(help="Escalation policies.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="JSON output.")]


def _definition(path: Path) -> PolicyCreate:
    return PolicyCreate.model_validate(read_yaml_mapping(path, "a mapping with name and levels"))


def _describe(policy: PolicyRead) -> str:
    levels = []
    for i, level in enumerate(policy.levels, start=1):
        names = ", ".join(f"{t.kind} {t.name}" for t in level.targets)
        levels.append(f"{i}: {names} (wait {level.timeout_seconds // 60} min)")
    rounds = f"; then {policy.repeat} more round(s)" if policy.repeat else ""
    return "; ".join(levels) + rounds


@app.command("create")
def create(
    path: Annotated[Path, typer.Argument(help="The policy as YAML (see docs/paging.md).")],
    replace: Annotated[bool, typer.Option(help="Replace the policy of that name.")] = False,
) -> None:
    """Create an escalation policy from a YAML file (or replace one with --replace)."""
    data = _definition(path)
    rt = runtime()
    with rt.transaction() as session:
        if replace:
            policy = policies.find(session=session, ref=data.name)
            policies.replace(session=session, policy=policy, data=data, now=rt.clock.now())
        else:
            policy = policies.create(session=session, data=data, now=rt.clock.now())
        read = policies.read(policy)
    verb = "replaced" if replace else "created"
    out.print(f"{verb} policy {read.id}: {read.name}: {_describe(read)}", markup=False)


@app.command("list")
def list_policies(as_json: JSON = False) -> None:
    """Every escalation policy and its levels."""
    rt = runtime()
    with rt.read() as session:
        rows = [policies.read(p) for p in policies.list_policies(session=session)]
    if as_json:
        print_json(rows)
        return
    table = Table("ID", "Name", "Levels")
    for row in rows:
        table.add_row(str(row.id), escape(row.name), escape(_describe(row)))
    out.print(table)


def escalate(
    incident_id: Annotated[int, typer.Argument(help="Incident id.", min=1)],
    policy: Annotated[str, typer.Option(help="Escalation policy (name or id).")],
) -> None:
    """Start paging for a triggered incident with an escalation policy."""
    rt = runtime()
    with rt.transaction() as session:
        incident = lock_row(session=session, incident_id=incident_id)
        started = escalation.start(
            session=session, incident=incident, policy_ref=policy, actor=actor(), now=rt.clock.now()
        )
        escalation_id, name = started.id, started.policy_name
    out.print(
        f"escalation {escalation_id} started for incident {incident_id} ({name})", markup=False
    )


def page(
    incident_id: Annotated[int, typer.Argument(help="Incident id.", min=1)],
    role: Annotated[str, typer.Option(help='Role key or name, e.g. "Database Administrator".')],
) -> None:
    """Page a response role: whoever holds it, or whoever is on call on its schedule."""
    rt = runtime()
    found = assembly.find_role(rt.playbook, role)
    with rt.transaction() as session:
        incident = get(session=session, incident_id=incident_id, lock=True)
        person = assembly.page_role(
            session=session, incident=incident, role=found, actor=actor(), now=rt.clock.now()
        )
        name = person.name
    out.print(f"paging {name} as {found.name} for incident {incident_id}", markup=False)
