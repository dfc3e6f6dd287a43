"""Use-cases of the people directory."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.db import parse_id
from warroom.errors import Conflict, InvalidInput, NotFound
from warroom.people.models import Person
from warroom.people.schemas import NotificationRule, PersonCreate


def check_rules(rules: Sequence[NotificationRule], channels: Collection[str] | None) -> None:
    """InvalidInput naming the first rule whose channel is not configured (``channels``
    None: not checked)."""
    if channels is None:
        return
    for index, rule in enumerate(rules):
        if rule.channel not in channels:
            known = ", ".join(sorted(channels))
            raise InvalidInput(
                f"notification_rules[{index}].channel",
                f"no channel named {rule.channel!r} is configured; one of {known}",
            )


def set_rules(
    *,
    person: Person,
    rules: Sequence[NotificationRule],
    channels: Collection[str] | None,
) -> Person:
    """Replace how pages reach the person (no rules: every paging channel at once)."""
    check_rules(rules, channels)
    person.notification_rules = [rule.model_dump() for rule in rules]
    return person


def add(
    *,
    session: Session,
    data: PersonCreate,
    now: datetime,
    channels: Collection[str] | None = None,
) -> Person:
    """Add a person; an email already in the directory is a conflict, a rule naming a
    channel not in ``channels`` bad input."""
    check_rules(data.notification_rules, channels)
    if data.email and session.scalar(select(Person).where(Person.email == data.email)):
        raise Conflict(
            f"email: {data.email} already belongs to someone", details={"field": "email"}
        )
    person = Person(**data.model_dump(), created_at=now)
    session.add(person)
    session.flush()
    return person


def add_many(
    *,
    session: Session,
    people: list[PersonCreate],
    now: datetime,
    channels: Collection[str] | None = None,
) -> list[Person]:
    """Add several people at once, all or none."""
    emails = [p.email for p in people if p.email]
    duplicates = {e for e in emails if emails.count(e) > 1}
    if duplicates:
        raise Conflict(
            f"email: {sorted(duplicates)[0]} appears twice in the import",
            details={"field": "email"},
        )
    return [add(session=session, data=p, now=now, channels=channels) for p in people]


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
