"""Use-cases of schedules: create or replace, read, who is on call, overrides."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.errors import Conflict, InvalidInput, NotFound
from warroom.inputs import named, refuse_taken_name
from warroom.oncall import rotation
from warroom.oncall.models import Schedule, ScheduleOverride
from warroom.oncall.schemas import (
    DAYS,
    LayerIn,
    OnCallRead,
    OverrideCreate,
    ScheduleCreate,
    SpanRead,
)
from warroom.people import service as people
from warroom.people.models import Person
from warroom.people.schemas import PersonRead

GAP_HORIZON = timedelta(weeks=4)
MAX_RANGE = timedelta(days=92)


def _stored_layers(session: Session, data: ScheduleCreate) -> list[dict[str, object]]:
    """The layers as stored: participants by person id; unknown people named by path."""
    layers = []
    for i, layer in enumerate(data.layers):
        ids = []
        for j, ref in enumerate(layer.participants):
            try:
                ids.append(str(people.find(session=session, ref=ref).id))
            except (NotFound, Conflict) as exc:
                raise InvalidInput(f"layers[{i}].participants[{j}]", exc.message) from exc
        stored = layer.model_copy(update={"participants": ids})
        layers.append(stored.model_dump(mode="json", by_alias=True))
    return layers


def create(*, session: Session, data: ScheduleCreate, now: datetime) -> Schedule:
    refuse_taken_name(session, Schedule, data.name, what="schedule")
    schedule = Schedule(
        name=data.name,
        timezone=data.timezone,
        description=data.description,
        layers=_stored_layers(session, data),
        created_at=now,
        updated_at=now,
    )
    session.add(schedule)
    session.flush()
    return schedule


def replace(*, session: Session, schedule: Schedule, data: ScheduleCreate, now: datetime) -> None:
    """A new definition for the schedule (its overrides stay)."""
    refuse_taken_name(session, Schedule, data.name, what="schedule", other_than=schedule.id)
    schedule.name = data.name
    schedule.timezone = data.timezone
    schedule.description = data.description
    schedule.layers = _stored_layers(session, data)
    schedule.updated_at = now


def get(*, session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} not found", details={"field": "schedule_id"})
    return schedule


def find(*, session: Session, ref: str) -> Schedule:
    """A schedule by id or name."""
    return named(session, Schedule, ref, what="schedule", field="schedule")


def list_schedules(*, session: Session) -> Sequence[Schedule]:
    return session.scalars(select(Schedule).order_by(Schedule.name)).all()


def overrides(*, session: Session, schedule: Schedule) -> Sequence[ScheduleOverride]:
    return session.scalars(
        select(ScheduleOverride)
        .where(ScheduleOverride.schedule_id == schedule.id)
        .order_by(ScheduleOverride.starts_at, ScheduleOverride.id)
    ).all()


def add_override(
    *, session: Session, schedule: Schedule, data: OverrideCreate, actor: str, now: datetime
) -> ScheduleOverride:
    """An override; one covering the same time for the same replaced person is a conflict."""
    person = people.find(session=session, ref=data.person)
    replaces = people.find(session=session, ref=data.replaces) if data.replaces else None
    new = rotation.Override(
        data.starts_at, data.ends_at, person.id, replaces.id if replaces else None
    )
    existing = [_override(o) for o in overrides(session=session, schedule=schedule)]
    clash = rotation.overlapping([*existing, new])
    if clash is not None:
        raise Conflict(
            "another override covers part of this time"
            + (" for the same person" if new.replaces is not None else ""),
            details={"field": "starts_at"},
        )
    row = ScheduleOverride(
        schedule_id=schedule.id,
        person_id=person.id,
        replaces_id=replaces.id if replaces else None,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        note=data.note,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def remove_override(*, session: Session, schedule: Schedule, override_id: int) -> None:
    row = session.get(ScheduleOverride, override_id)
    if row is None or row.schedule_id != schedule.id:
        raise NotFound(f"override {override_id} not found", details={"field": "override_id"})
    session.delete(row)


def _override(row: ScheduleOverride) -> rotation.Override[int]:
    return rotation.Override(row.starts_at, row.ends_at, row.person_id, row.replaces_id)


def _layer(data: LayerIn) -> rotation.Layer[int]:
    return rotation.Layer(
        name=data.name,
        unit=data.rotation,
        every=data.every,
        handoff=data.handoff,
        start=data.start,
        participants=tuple(int(p) for p in data.participants),
        handoff_day=DAYS.index(data.handoff_day),
        restrict=tuple(
            rotation.Window(frozenset(DAYS.index(d) for d in w.days), w.start, w.end)
            for w in data.restrict
        ),
    )


def layers_of(schedule: Schedule) -> list[LayerIn]:
    return [LayerIn.model_validate(layer) for layer in schedule.layers]


def _plan(schedule: Schedule, rows: Sequence[ScheduleOverride]) -> rotation.Schedule[int]:
    return rotation.Schedule(
        zone=ZoneInfo(schedule.timezone),
        layers=tuple(_layer(layer) for layer in layers_of(schedule)),
        overrides=tuple(_override(o) for o in rows),
    )


def plan(*, session: Session, schedule: Schedule) -> rotation.Schedule[int]:
    """The schedule as the pure rotation code sees it, overrides included."""
    return _plan(schedule, overrides(session=session, schedule=schedule))


def who(*, session: Session, schedule: Schedule, at: datetime) -> tuple[list[Person], str]:
    """Who is on call at ``at``, and what decided it."""
    ids, source = rotation.on_call(plan(session=session, schedule=schedule), at)
    return [people.get(session=session, person_id=i) for i in ids], source


def spans(
    *, session: Session, schedule: Schedule, start: datetime, end: datetime
) -> list[tuple[rotation.Span[int], list[Person]]]:
    """Who is on call over [start, end) (at most 92 days), gaps included."""
    if end <= start:
        raise InvalidInput("end", "must be after start")
    if end - start > MAX_RANGE:
        raise InvalidInput("end", "at most 92 days after start")
    found = rotation.spans(plan(session=session, schedule=schedule), start, end)
    return [(s, [people.get(session=session, person_id=i) for i in s.people]) for s in found]


def gaps(*, session: Session, schedule: Schedule, now: datetime) -> list[rotation.Span[int]]:
    return rotation.gaps(plan(session=session, schedule=schedule), now, now + GAP_HORIZON)


def on_call_everywhere(*, session: Session, at: datetime) -> list[tuple[str, list[Person]]]:
    """Every schedule's name with who is on call at ``at``: three queries in all (schedules,
    the overrides covering ``at``, the people), not a round per schedule."""
    schedules = list_schedules(session=session)
    covering = session.scalars(
        select(ScheduleOverride).where(
            ScheduleOverride.starts_at <= at, ScheduleOverride.ends_at > at
        )
    ).all()
    found = []
    for schedule in schedules:
        mine = [o for o in covering if o.schedule_id == schedule.id]
        found.append((schedule.name, rotation.on_call(_plan(schedule, mine), at)[0]))
    wanted = {i for _, ids in found for i in ids}
    by_id = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(wanted)))}
    return [(name, [by_id[i] for i in ids if i in by_id]) for name, ids in found]


def on_call_read(*, session: Session, schedule: Schedule, at: datetime) -> OnCallRead:
    """Who is on call at ``at``, as the API and CLI show it."""
    found, source = who(session=session, schedule=schedule, at=at)
    people_read = [PersonRead.model_validate(p) for p in found]
    return OnCallRead(schedule=schedule.name, at=at, people=people_read, source=source)


def span_reads(
    *, session: Session, schedule: Schedule, start: datetime, end: datetime
) -> list[SpanRead]:
    """``spans`` as the API and CLI show them."""
    return [
        SpanRead(
            start=span.start,
            end=span.end,
            people=[PersonRead.model_validate(p) for p in who],
            source=span.source,
        )
        for span, who in spans(session=session, schedule=schedule, start=start, end=end)
    ]
