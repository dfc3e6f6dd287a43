"""Use-cases of the people directory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.db import parse_id
from warroom.errors import Conflict, NotFound
from warroom.people.models import Person
from warroom.people.schemas import PersonCreate


def add(*, session: Session, data: PersonCreate, now: datetime) -> Person:
    """Add a person; an email already in the directory is a conflict."""
    if data.email and session.scalar(select(Person).where(Person.email == data.email)):
        raise Conflict(
            f"email: {data.email} already belongs to someone", details={"field": "email"}
        )
    person = Person(**data.model_dump(), created_at=now)
    session.add(person)
    session.flush()
    return person


def add_many(*, session: Session, people: list[PersonCreate], now: datetime) -> list[Person]:
    """Add several people at once, all or none."""
    emails = [p.email for p in people if p.email]
    duplicates = {e for e in emails if emails.count(e) > 1}
    if duplicates:
        raise Conflict(
            f"email: {sorted(duplicates)[0]} appears twice in the import",
            details={"field": "email"},
        )
    return [add(session=session, data=p, now=now) for p in people]


def get(*, session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} not found", details={"field": "person_id"})
    return person


def find(*, session: Session, ref: str) -> Person:
    """A person by id, email or exact name (case-insensitive)."""
    if ref.isascii() and ref.isdigit():
        person_id = parse_id(ref)
        if person_id is None:
            raise NotFound(f"person {ref} not found", details={"field": "person"})
        return get(session=session, person_id=person_id)
    lowered = ref.strip().lower()
    matches = session.scalars(
        select(Person).where((Person.email == lowered) | (func.lower(Person.name) == lowered))
    ).all()
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(f"no person matches {ref!r}", details={"field": "person"})
    raise Conflict(
        f"{ref!r} matches {len(matches)} people; use the id or email", details={"field": "person"}
    )


def list_people(*, session: Session) -> Sequence[Person]:
    return session.scalars(select(Person).order_by(Person.name, Person.id)).all()
