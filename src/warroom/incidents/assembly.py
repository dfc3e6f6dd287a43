"""Team assembly: the playbook maps response roles to on-call schedules; declaring an
incident gives each role it needs to whoever is on call on the role's schedule, and
summons them (a job, so the page goes out through the worker's channels and outbox).

Where none of the schedules the roles name exists, team assembly is simply not set up and
nothing is recorded; once one exists, each role left empty is said on the timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from warroom.errors import Conflict, NotFound
from warroom.incidents import timeline
from warroom.incidents.models import Incident, RoleAssignment
from warroom.jobs import service as jobs
from warroom.oncall import service as oncall
from warroom.oncall.models import Schedule
from warroom.people.models import Person
from warroom.playbook.schema import Playbook, Role

SUMMON = "summon"
SCHEDULES = "warroom_assembly_schedules"  # session.info: the role schedules, read once
ACTOR = "warroom"
SCHEDULES_NAMED = select(Schedule).where(  # built once: every new incident reads it
    Schedule.name.in_(bindparam("names", expanding=True))
)


def assignment_data(role: Role, person: Person) -> dict[str, Any]:
    """What a ``role_assigned`` timeline entry says."""
    return {"role": role.key, "role_name": role.name, "person_id": person.id, "person": person.name}


def assemble(*, session: Session, playbook: Playbook, incident: Incident, now: datetime) -> None:
    """Fill the new incident's required roles from their schedules and summon the people."""
    roles = [r for r in playbook.required_roles(incident.type) if r.schedule]
    names = frozenset(r.schedule for r in roles if r.schedule)
    known: dict[frozenset[str], dict[str, Schedule]] = session.info.setdefault(SCHEDULES, {})
    if names not in known:  # once per transaction: alert batches declare many incidents
        with session.no_autoflush:  # the new incident's changes need not go first
            read = session.scalars(SCHEDULES_NAMED, {"names": sorted(names)})
            known[names] = {s.name: s for s in read}
    found = known[names]
    if not found:
        return
    for role in roles:
        person, reason = on_call_for(session=session, role=role, schedules=found, now=now)
        if person is None:
            timeline.append(
                session=session,
                incident=incident,
                at=now,
                actor=ACTOR,
                kind="role_unfilled",
                data={"role": role.key, "role_name": role.name, "reason": reason},
            )
            continue
        give(session=session, incident=incident, role=role, person=person, now=now, actor=ACTOR)
        summon(session=session, incident=incident, role=role, person=person, now=now)


def on_call_for(
    *, session: Session, role: Role, schedules: dict[str, Schedule], now: datetime
) -> tuple[Person | None, str]:
    """Who is on call on the role's schedule now (the first of several), or why nobody."""
    schedule = schedules.get(role.schedule or "")
    if schedule is None:
        return None, f"no schedule named {role.schedule!r}"
    on_call, _ = oncall.who(session=session, schedule=schedule, at=now)
    if not on_call:
        return None, f"nobody is on call on {schedule.name!r}"
    return on_call[0], ""


def give(
    *, session: Session, incident: Incident, role: Role, person: Person, now: datetime, actor: str
) -> None:
    """Assign a role nobody holds yet on the incident."""
    incident.roles.append(
        RoleAssignment(role_key=role.key, person_id=person.id, assigned_at=now, assigned_by=actor)
    )
    data = {**assignment_data(role, person), "schedule": role.schedule}
    timeline.append(
        session=session, incident=incident, at=now, actor=actor, kind="role_assigned", data=data
    )


def summon(
    *, session: Session, incident: Incident, role: Role, person: Person, now: datetime
) -> None:
    """Queue the page that calls the person to the incident in the role."""
    jobs.schedule(
        session=session,
        kind=SUMMON,
        subject=f"incident:{incident.id}",
        key=f"{SUMMON}:{incident.id}:{incident.timeline_count}:{role.key}:{person.id}",
        due_at=now,
        now=now,
        payload={
            "incident_id": incident.id,
            "person_id": person.id,
            "role": role.key,
            "role_name": role.name,
        },
    )


def find_role(playbook: Playbook, ref: str) -> Role:
    """A role by key or name (any case); NotFound naming the field otherwise."""
    wanted = ref.strip().lower()
    for role in playbook.roles:
        if wanted in (role.key, role.name.lower()):
            return role
    known = ", ".join(r.name for r in playbook.roles)
    raise NotFound(f"unknown role {ref!r}; one of {known}", details={"field": "role"})


def page_role(
    *,
    session: Session,
    incident: Incident,
    role: Role,
    actor: str,
    now: datetime,
) -> Person:
    """Summon whoever holds the role on the (locked) incident; when nobody does, give it to
    whoever is on call on its schedule first. Conflict when there is nobody to page."""
    if incident.status == "closed":
        raise Conflict(f"incident {incident.id} is closed", details={"field": "incident_id"})
    held = next((a for a in incident.roles if a.role_key == role.key), None)
    person = session.get(Person, held.person_id) if held is not None else None
    if person is None:
        schedules = {}
        if role.schedule:
            found = session.scalar(select(Schedule).where(Schedule.name == role.schedule))
            schedules = {found.name: found} if found is not None else {}
        person, reason = on_call_for(session=session, role=role, schedules=schedules, now=now)
        if person is None:
            why = reason or "the playbook names no schedule for it"
            raise Conflict(
                f"nobody to page as {role.name}: nobody holds the role and {why}; "
                "assign someone to it first",
                details={"field": "role"},
            )
        give(session=session, incident=incident, role=role, person=person, now=now, actor=actor)
    summon(session=session, incident=incident, role=role, person=person, now=now)
    return person
