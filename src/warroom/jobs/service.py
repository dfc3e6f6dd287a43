"""Schedule, cancel and claim jobs. Callers own the transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from warroom import lean
from warroom.db import table_of
from warroom.jobs.models import CANCELLED, DONE, PENDING, Job

DUE_NOW = "warroom_job_due_now"
JOBS = table_of(Job)
# Built once: building a statement costs more than running it on SQLite.
ADD = {
    "sqlite": sqlite_insert(JOBS).on_conflict_do_nothing(index_elements=["key"]),
    "postgresql": pg_insert(JOBS).on_conflict_do_nothing(index_elements=["key"]),
}
FINISH_LEASED = (
    update(JOBS)
    .where(
        JOBS.c.key.in_(bindparam("keys", expanding=True)),
        JOBS.c.status == PENDING,
        JOBS.c.attempts == 0,
    )
    .values(status=DONE, finished_at=bindparam("now"), finished_by=bindparam("by"))
    .returning(JOBS.c.key)
)
NEXT_DUE = (  # the worker asks before every wait
    select(JOBS.c.due_at).where(JOBS.c.status == PENDING).order_by(JOBS.c.due_at).limit(1)
)
ANY_PENDING = (
    select(JOBS.c.id)
    .where(
        JOBS.c.kind == bindparam("kind"),
        JOBS.c.status == PENDING,
        JOBS.c.subject.in_(bindparam("subjects", expanding=True)),
        JOBS.c.key.not_in(bindparam("besides", expanding=True)),
    )
    .limit(1)
)


@dataclass(frozen=True)
class NewJob:
    kind: str
    subject: str
    key: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def schedule(
    *,
    session: Session,
    kind: str,
    subject: str,
    key: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> None:
    """Add a job unless one with the same key exists (one statement, no read first)."""
    schedule_many(
        session=session, jobs=[NewJob(kind, subject, key, due_at, payload or {})], now=now
    )


def schedule_many(*, session: Session, jobs: Sequence[NewJob], now: datetime) -> None:
    """Add each job unless one with its key exists, with one statement."""
    if not jobs:
        return
    due_now = sum(1 for job in jobs if job.due_at <= now)
    if due_now:  # the caller's runtime wakes its workers after commit
        session.info[DUE_NOW] = session.info.get(DUE_NOW, 0) + due_now
    lean.write(  # Core only: the ORM's pending changes need not go first
        session,
        ADD[session.get_bind().dialect.name],
        [
            {
                "kind": job.kind,
                "subject": job.subject,
                "key": job.key,
                "due_at": job.due_at,
                "created_at": now,
                "payload": job.payload,
                "status": PENDING,
                "attempts": 0,
            }
            for job in jobs
        ],
    )


def cancel_pending(*, session: Session, subject: str, now: datetime) -> int:
    """Cancel every pending job about ``subject``; returns how many.

    Jobs a worker is running right now are skipped, not waited for (waiting could
    deadlock with the worker, which locks the job and then the incident); their handlers
    re-check the state under the incident lock and do nothing.
    """
    free = (
        select(Job.id)
        .where(Job.subject == subject, Job.status == PENDING)
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        update(Job)
        .where(Job.id.in_(free.scalar_subquery()))
        .values(status=CANCELLED, finished_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim_due(
    *, session: Session, now: datetime, limit: int, kind: str | None = None, besides: int = 0
) -> Sequence[Job]:
    """Lock and return up to ``limit`` due pending jobs (of ``kind``, other than the job
    ``besides`` this transaction holds already), oldest first.

    On PostgreSQL other workers skip the locked rows; on SQLite the whole transaction
    holds the database's write lock (BEGIN IMMEDIATE), so there is one writer at a time.
    """
    query = select(Job).where(Job.status == PENDING, Job.due_at <= now)
    if kind is not None:
        query = query.where(Job.kind == kind, Job.id != besides)
    query = query.order_by(Job.due_at, Job.id).limit(limit).with_for_update(skip_locked=True)
    return session.scalars(query).all()


def leased(*, session: Session, job_id: int, attempts: int) -> Job | None:
    """The job, locked, if it is still pending at this attempt: the lease of the worker that
    made the attempt has not been taken over."""
    return session.scalar(
        select(Job)
        .where(Job.id == job_id, Job.status == PENDING, Job.attempts == attempts)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def finish_leased(*, session: Session, key: str, now: datetime, by: str) -> bool:
    """Mark done the job of this key if it is still pending and untried (leased by whoever
    queued it, and not taken over since); whether it was."""
    return bool(finish_leased_many(session=session, keys=[key], now=now, by=by))


def finish_leased_many(
    *, session: Session, keys: Sequence[str], now: datetime, by: str
) -> set[str]:
    """``finish_leased`` for many jobs with one statement; the keys of those it finished."""
    if not keys:
        return set()
    result = session.connection().execute(  # Core: no autoflush, no identity-map sync
        FINISH_LEASED, {"keys": list(keys), "now": now, "by": by}
    )
    return set(result.scalars())


def any_pending(
    *, session: Session, kind: str, subjects: Collection[str], besides: Collection[str]
) -> bool:
    """Whether a pending job of ``kind`` about one of ``subjects`` exists, but for the jobs
    keyed ``besides``."""
    found = session.connection().scalar(
        ANY_PENDING, {"kind": kind, "subjects": list(subjects), "besides": list(besides)}
    )
    return found is not None


def next_due_at(*, session: Session) -> datetime | None:
    """When the earliest pending job falls due, if any."""
    due: datetime | None = session.connection().scalar(NEXT_DUE)
    return due
