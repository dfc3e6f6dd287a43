"""Teams: people who answer together, optionally with their own on-call schedule. An
escalation level that targets a team pages whoever is on call on the team's schedule, or
every member when the team has none."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.errors import Conflict, InvalidInput, NotFound
from warroom.inputs import Input, named, refuse_taken_name
from warroom.oncall import service as schedules
from warroom.oncall.models import Schedule, Team, TeamMember
from warroom.people import service as people
from warroom.people.models import Person


class TeamCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    members: list[str] = Field(default_factory=list, max_length=500, description="People.")
    schedule: str | None = Field(default=None, description="Its on-call schedule (name or id).")


class Ref(BaseModel):
    id: int
    name: str


class TeamRead(BaseModel):
    id: int
    name: str
    description: str
    schedule: Ref | None
    members: list[Ref]


def _resolve(session: Session, data: TeamCreate) -> tuple[list[Person], Schedule | None]:
    found: dict[int, Person] = {}
    for index, ref in enumerate(data.members):
        try:
            person = people.find(session=session, ref=ref)
        except (NotFound, Conflict) as exc:
            raise InvalidInput(f"members[{index}]", exc.message) from exc
        found.setdefault(person.id, person)
    schedule = None
    if data.schedule is not None:
        try:
            schedule = schedules.find(session=session, ref=data.schedule)
        except NotFound as exc:
            raise InvalidInput("schedule", exc.message) from exc
    return list(found.values()), schedule


def create(*, session: Session, data: TeamCreate, now: datetime) -> Team:
    refuse_taken_name(session, Team, data.name, what="team")
    members, schedule = _resolve(session, data)
    team = Team(
        name=data.name,
        description=data.description,
        schedule_id=schedule.id if schedule else None,
        created_at=now,
        updated_at=now,
    )
    session.add(team)
    session.flush()
    session.add_all(TeamMember(team_id=team.id, person_id=p.id) for p in members)
    session.flush()
    return team


def replace(*, session: Session, team: Team, data: TeamCreate, now: datetime) -> None:
    refuse_taken_name(session, Team, data.name, what="team", other_than=team.id)
    members, schedule = _resolve(session, data)
    team.name, team.description = data.name, data.description
    team.schedule_id = schedule.id if schedule else None
    team.updated_at = now
    for member in session.scalars(select(TeamMember).where(TeamMember.team_id == team.id)):
        session.delete(member)
    session.flush()
    session.add_all(TeamMember(team_id=team.id, person_id=p.id) for p in members)
    session.flush()


def get(*, session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"team {team_id} not found", details={"field": "team_id"})
    return team


def find(*, session: Session, ref: str) -> Team:
    """A team by id or name."""
    return named(session, Team, ref, what="team", field="team")


def list_teams(*, session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.name)).all()


def members(*, session: Session, team: Team) -> list[Person]:
    return list(
        session.scalars(
            select(Person)
            .join(TeamMember, TeamMember.person_id == Person.id)
            .where(TeamMember.team_id == team.id)
            .order_by(Person.name, Person.id)
        )
    )


def to_page(*, session: Session, team: Team, at: datetime) -> list[Person]:
    """Whom paging the team reaches at ``at``: its schedule's on-call, or every member."""
    if team.schedule_id is not None:
        schedule = session.get(Schedule, team.schedule_id)
        if schedule is not None:
            on_call, _ = schedules.who(session=session, schedule=schedule, at=at)
            return on_call
    return members(session=session, team=team)


def read(*, session: Session, team: Team) -> TeamRead:
    schedule = session.get(Schedule, team.schedule_id) if team.schedule_id else None
    return TeamRead(
        id=team.id,
        name=team.name,
        description=team.description,
        schedule=Ref(id=schedule.id, name=schedule.name) if schedule else None,
        members=[Ref(id=p.id, name=p.name) for p in members(session=session, team=team)],
    )
