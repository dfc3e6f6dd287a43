"""team create | list | show."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from warroom.cli.context import out, print_json, runtime
from warroom.oncall import teams
from warroom.oncall.teams import TeamCreate, TeamRead

app = typer.Typer(help="Teams: people paged together.", no_args_is_help=True)
JSON = Annotated[bool, typer.Option("--json", help="JSON output.")]


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Unique team name.")],
    member: Annotated[
        list[str] | None, typer.Option(help="A member (id, email or name); repeat for more.")
    ] = None,
    schedule: Annotated[str | None, typer.Option(help="The team's on-call schedule.")] = None,
    description: Annotated[str, typer.Option(help="What the team does.")] = "",
    replace: Annotated[bool, typer.Option(help="Replace the team with this name.")] = False,
    as_json: JSON = False,
) -> None:
    """Create (or --replace) a team; an escalation level can target it."""
    data = TeamCreate(name=name, description=description, members=member or [], schedule=schedule)
    rt = runtime()
    with rt.transaction() as session:
        if replace:
            team = teams.find(session=session, ref=name)
            teams.replace(session=session, team=team, data=data, now=rt.clock.now())
        else:
            team = teams.create(session=session, data=data, now=rt.clock.now())
        read = teams.read(session=session, team=team)
    if as_json:
        print_json(read)
        return
    out.print(f"team {read.id}: {read.name} ({_describe(read)})", markup=False)


@app.command("list")
def list_teams(as_json: JSON = False) -> None:
    """Every team, its schedule and members."""
    rt = runtime()
    with rt.read() as session:
        rows = [teams.read(session=session, team=t) for t in teams.list_teams(session=session)]
    if as_json:
        print_json(rows)
        return
    table = Table("ID", "Name", "Paged")
    for row in rows:
        table.add_row(str(row.id), escape(row.name), escape(_describe(row)))
    out.print(table)


def _describe(team: TeamRead) -> str:
    people = ", ".join(m.name for m in team.members) or "no members"
    if team.schedule is not None:
        return f"on-call of {team.schedule.name}; members: {people}"
    return f"every member: {people}"
