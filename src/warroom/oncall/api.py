"""Schedules and who is on call, under /api/v1/schedules and /api/v1/oncall."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from warroom.errors import InvalidInput, NotFound
from warroom.oncall import feeds, service, teams
from warroom.oncall.models import Schedule, ScheduleOverride
from warroom.oncall.schemas import (
    OnCallRead,
    OverrideCreate,
    OverrideRead,
    ScheduleCreate,
    ScheduleRead,
    SpanRead,
)
from warroom.people import service as people
from warroom.people.schemas import PersonRead
from warroom.runtime import Runtime
from warroom.web.deps import Admin, IdPath, Responder, RuntimeDep, Viewer

router = APIRouter(prefix="/api/v1", tags=["on-call"])
feeds_router = APIRouter(tags=["calendar feeds"])
At = Annotated[datetime | None, Query(description="An instant with its offset; default now.")]


def _aware(at: datetime | None, now: datetime, field: str = "at") -> datetime:
    if at is None:
        return now
    if at.tzinfo is None:
        raise InvalidInput(field, "must include a time zone, e.g. 2027-01-01T09:00:00+01:00")
    return at


def _read(session: Session, schedule: Schedule, now: datetime) -> ScheduleRead:
    return ScheduleRead(
        id=schedule.id,
        name=schedule.name,
        timezone=schedule.timezone,
        description=schedule.description,
        layers=service.layers_of(schedule),
        gaps=[
            SpanRead(start=g.start, end=g.end, people=[], source="")
            for g in service.gaps(session=session, schedule=schedule, now=now)
        ],
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


def _override(session: Session, row: ScheduleOverride) -> OverrideRead:
    def person(person_id: int) -> PersonRead:
        return PersonRead.model_validate(people.get(session=session, person_id=person_id))

    return OverrideRead(
        id=row.id,
        person=person(row.person_id),
        replaces=person(row.replaces_id) if row.replaces_id is not None else None,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        note=row.note,
        created_by=row.created_by,
    )


@router.post("/schedules", status_code=status.HTTP_201_CREATED, response_model=ScheduleRead)
def create_schedule(body: ScheduleCreate, caller: Admin, runtime: RuntimeDep) -> ScheduleRead:
    """Create a schedule; the answer lists the gaps (nobody on call) of the next 4 weeks."""
    now = runtime.clock.now()
    with runtime.transaction() as session:
        schedule = service.create(session=session, data=body, now=now)
        return _read(session, schedule, now)


@router.get("/schedules", response_model=list[ScheduleRead])
def list_schedules(caller: Viewer, runtime: RuntimeDep) -> list[ScheduleRead]:
    """Every schedule, by name."""
    now = runtime.clock.now()
    with runtime.read() as session:
        return [_read(session, s, now) for s in service.list_schedules(session=session)]


@router.get("/schedules/{schedule_id}", response_model=ScheduleRead)
def get_schedule(schedule_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> ScheduleRead:
    """One schedule with its gaps of the next 4 weeks."""
    now = runtime.clock.now()
    with runtime.read() as session:
        return _read(session, service.get(session=session, schedule_id=schedule_id), now)


@router.put("/schedules/{schedule_id}", response_model=ScheduleRead)
def replace_schedule(
    schedule_id: IdPath, body: ScheduleCreate, caller: Admin, runtime: RuntimeDep
) -> ScheduleRead:
    """Replace a schedule's definition (its overrides stay)."""
    now = runtime.clock.now()
    with runtime.transaction() as session:
        schedule = service.get(session=session, schedule_id=schedule_id)
        service.replace(session=session, schedule=schedule, data=body, now=now)
        return _read(session, schedule, now)


@router.get("/schedules/{schedule_id}/oncall", response_model=OnCallRead)
def schedule_oncall(
    schedule_id: IdPath, caller: Viewer, runtime: RuntimeDep, at: At = None
) -> OnCallRead:
    """Who is on call on this schedule at ``at`` (default now)."""
    when = _aware(at, runtime.clock.now())
    with runtime.read() as session:
        schedule = service.get(session=session, schedule_id=schedule_id)
        return service.on_call_read(session=session, schedule=schedule, at=when)


@router.get("/schedules/{schedule_id}/shifts", response_model=list[SpanRead])
def schedule_shifts(
    schedule_id: IdPath,
    caller: Viewer,
    runtime: RuntimeDep,
    start: At = None,
    end: At = None,
) -> list[SpanRead]:
    """Who is on call from ``start`` (default now) to ``end`` (default a week later, at
    most 92 days), gaps included."""
    since = _aware(start, runtime.clock.now(), "start")
    until = _aware(end, since + timedelta(weeks=1), "end")
    with runtime.read() as session:
        schedule = service.get(session=session, schedule_id=schedule_id)
        return service.span_reads(session=session, schedule=schedule, start=since, end=until)


@router.post(
    "/schedules/{schedule_id}/overrides",
    status_code=status.HTTP_201_CREATED,
    response_model=OverrideRead,
)
def add_override(
    schedule_id: IdPath, body: OverrideCreate, caller: Responder, runtime: RuntimeDep
) -> OverrideRead:
    """Put someone on call for a while: instead of everyone, or instead of ``replaces``."""
    with runtime.transaction() as session:
        schedule = service.get(session=session, schedule_id=schedule_id)
        row = service.add_override(
            session=session,
            schedule=schedule,
            data=body,
            actor=caller.actor,
            now=runtime.clock.now(),
        )
        return _override(session, row)


@router.get("/schedules/{schedule_id}/overrides", response_model=list[OverrideRead])
def list_overrides(schedule_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> list[OverrideRead]:
    """The schedule's overrides, by start."""
    with runtime.read() as session:
        schedule = service.get(session=session, schedule_id=schedule_id)
        return [
            _override(session, o) for o in service.overrides(session=session, schedule=schedule)
        ]


@router.delete(
    "/schedules/{schedule_id}/overrides/{override_id}", status_code=status.HTTP_204_NO_CONTENT
)
def remove_override(
    schedule_id: IdPath, override_id: IdPath, caller: Responder, runtime: RuntimeDep
) -> Response:
    """Remove an override."""
    with runtime.transaction() as session:
        schedule = service.get(session=session, schedule_id=schedule_id)
        service.remove_override(session=session, schedule=schedule, override_id=override_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/oncall", response_model=list[OnCallRead])
def oncall(caller: Viewer, runtime: RuntimeDep, at: At = None) -> list[OnCallRead]:
    """Who is on call on every schedule at ``at`` (default now)."""
    when = _aware(at, runtime.clock.now())
    with runtime.read() as session:
        return [
            service.on_call_read(session=session, schedule=schedule, at=when)
            for schedule in service.list_schedules(session=session)
        ]


class CalendarLink(BaseModel):
    url: str = Field(description="Secret iCalendar link; anyone with it sees the shifts.")


def _link(runtime: Runtime, kind: str, subject_id: int) -> CalendarLink:
    return CalendarLink(
        url=feeds.link(
            base_url=runtime.settings.resolved_base_url(),
            secret_key=runtime.secret_key,
            kind=kind,
            subject_id=subject_id,
        )
    )


@router.get("/schedules/{schedule_id}/calendar", response_model=CalendarLink)
def schedule_calendar(schedule_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> CalendarLink:
    """The secret iCalendar link of the schedule's shifts."""
    with runtime.read() as session:
        service.get(session=session, schedule_id=schedule_id)
    return _link(runtime, "schedule", schedule_id)


@router.get("/people/{person_id}/calendar", response_model=CalendarLink)
def person_calendar(person_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> CalendarLink:
    """The secret iCalendar link of one person's shifts on every schedule."""
    with runtime.read() as session:
        people.get(session=session, person_id=person_id)
    return _link(runtime, "person", person_id)


def _ics(body: bytes) -> Response:
    return Response(body, media_type="text/calendar; charset=utf-8")


def _check(runtime: Runtime, subject: str, given: str) -> None:
    if not feeds.valid(runtime.secret_key, subject, given):
        raise NotFound("unknown calendar feed", details={"field": "token"})


@feeds_router.get("/ical/schedules/{schedule_id}.ics", response_class=Response)
def schedule_feed(schedule_id: IdPath, runtime: RuntimeDep, token: str = "") -> Response:
    """The schedule's shifts as iCalendar (a week back, 60 days ahead); needs the link's
    token, an unknown or wrong one is a 404."""
    _check(runtime, f"schedule:{schedule_id}", token)
    now = runtime.clock.now()
    start, end = feeds.window(now)
    with runtime.read() as session:
        schedule = service.get(session=session, schedule_id=schedule_id)
        shifts = [
            (
                span.start,
                span.end,
                f"On call: {person.name} ({schedule.name})",
                f"warroom-schedule-{schedule.id}-{int(span.start.timestamp())}-{person.id}",
            )
            for span, who in service.spans(session=session, schedule=schedule, start=start, end=end)
            for person in who
        ]
        name = f"On call: {schedule.name}"
    return _ics(feeds.calendar(name=name, shifts=shifts, now=now))


@feeds_router.get("/ical/people/{person_id}.ics", response_class=Response)
def person_feed(person_id: IdPath, runtime: RuntimeDep, token: str = "") -> Response:
    """One person's shifts on every schedule as iCalendar; needs the link's token."""
    _check(runtime, f"person:{person_id}", token)
    now = runtime.clock.now()
    start, end = feeds.window(now)
    with runtime.read() as session:
        person = people.get(session=session, person_id=person_id)
        shifts = [
            (
                span.start,
                span.end,
                f"On call: {schedule.name}",
                f"warroom-person-{person.id}-{schedule.id}-{int(span.start.timestamp())}",
            )
            for schedule in service.list_schedules(session=session)
            for span, who in service.spans(session=session, schedule=schedule, start=start, end=end)
            if any(p.id == person.id for p in who)
        ]
        name = f"On call: {person.name}"
    return _ics(feeds.calendar(name=name, shifts=shifts, now=now))


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=teams.TeamRead)
def create_team(body: teams.TeamCreate, caller: Admin, runtime: RuntimeDep) -> teams.TeamRead:
    """Create a team: members and, optionally, its on-call schedule."""
    with runtime.transaction() as session:
        team = teams.create(session=session, data=body, now=runtime.clock.now())
        return teams.read(session=session, team=team)


@router.get("/teams", response_model=list[teams.TeamRead])
def list_teams(caller: Viewer, runtime: RuntimeDep) -> list[teams.TeamRead]:
    """Every team, by name."""
    with runtime.read() as session:
        return [teams.read(session=session, team=t) for t in teams.list_teams(session=session)]


@router.get("/teams/{team_id}", response_model=teams.TeamRead)
def get_team(team_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> teams.TeamRead:
    """One team."""
    with runtime.read() as session:
        return teams.read(session=session, team=teams.get(session=session, team_id=team_id))


@router.put("/teams/{team_id}", response_model=teams.TeamRead)
def replace_team(
    team_id: IdPath, body: teams.TeamCreate, caller: Admin, runtime: RuntimeDep
) -> teams.TeamRead:
    """Replace a team's name, description, members and schedule."""
    with runtime.transaction() as session:
        team = teams.get(session=session, team_id=team_id)
        teams.replace(session=session, team=team, data=body, now=runtime.clock.now())
        return teams.read(session=session, team=team)
