"""Silences (maintenance windows): matching alerts are recorded without paging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from warroom import lean
from warroom.alerts.models import Silence
from warroom.alerts.schemas import SilenceCreate
from warroom.db import table_of
from warroom.errors import InvalidInput, NotFound
from warroom.playbook.matchers import Matcher, all_match, parse_matcher

SILENCES = table_of(Silence)


@dataclass(frozen=True, slots=True)
class Active:
    """A silence in force, as ingesting matches alerts against it: its matchers parsed once
    a batch, not once an alert."""

    id: int
    matchers: tuple[Matcher, ...]


def create(
    *,
    session: Session,
    matchers: list[str],
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    actor: str,
    now: datetime,
) -> Silence:
    """A silence over ``[starts_at, ends_at)``; every matcher is checked first."""
    if not matchers:
        raise InvalidInput("matchers", "at least one matcher is needed")
    for i, text in enumerate(matchers):
        try:
            parse_matcher(text)
        except ValueError as exc:
            raise InvalidInput(f"matchers[{i}]", str(exc)) from exc
    if ends_at <= starts_at:
        raise InvalidInput("ends_at", "must be after starts_at")
    silence = Silence(
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        comment=comment,
        created_by=actor,
        created_at=now,
    )
    session.add(silence)
    session.flush()
    return silence


def create_from(*, session: Session, request: SilenceCreate, actor: str, now: datetime) -> Silence:
    """A silence as the API or CLI asked for it (a window, or a duration from now)."""
    starts, ends = request.window(now)
    return create(
        session=session,
        matchers=request.matchers,
        starts_at=starts,
        ends_at=ends,
        comment=request.comment,
        actor=actor,
        now=now,
    )


CURRENT = (  # built once, and Core: ingesting reads it for every batch
    select(SILENCES.c.starts_at, SILENCES.c.ends_at, SILENCES.c.id, SILENCES.c.matchers)
    .where(SILENCES.c.ends_at > bindparam("now"))
    .order_by(SILENCES.c.id)
)


def active(*, session: Session, now: datetime) -> list[Active]:
    """The silences in force at ``now``, oldest first."""
    return [silence for starts, _, silence in current(session=session, now=now) if starts <= now]


def current(*, session: Session, now: datetime) -> list[tuple[datetime, datetime, Active]]:
    """The silences in force at ``now`` or later, oldest first, each with its window."""
    return [
        (starts, ends, Active(id_, tuple(parse_matcher(m) for m in matchers)))
        for starts, ends, id_, matchers in lean.rows(session, CURRENT, {"now": now})
    ]


def list_silences(*, session: Session, now: datetime, include_expired: bool) -> Sequence[Silence]:
    query = select(Silence).order_by(Silence.starts_at.desc())
    if not include_expired:
        query = query.where(Silence.ends_at > now)
    return session.scalars(query).all()


def expire(*, session: Session, silence_id: int, now: datetime) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"silence {silence_id} not found", details={"field": "silence_id"})
    silence.ends_at = min(silence.ends_at, now)
    return silence


def silencing(silences: Sequence[Active], labels: dict[str, str]) -> Active | None:
    """The first silence whose matchers all match the labels."""
    for silence in silences:
        if all_match(silence.matchers, labels):
            return silence
    return None
