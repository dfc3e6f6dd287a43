"""The append-only, hash-chained timeline.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical
JSON (incident, sequence number, time, actor, kind, data). The incident row keeps the
count and the head hash, so a removed last entry is caught too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom import lean
from warroom.db import inserts, table_of
from warroom.incidents.models import Incident, TimelineEntry

GENESIS = "0" * 64
TIMELINE = table_of(TimelineEntry)


def entry_hash(
    *,
    prev_hash: str,
    incident_id: int,
    seq: int,
    at: datetime,
    actor: str,
    kind: str,
    data: dict[str, Any],
) -> str:
    """The hash of one entry, chained to ``prev_hash``."""
    body = {
        "incident_id": incident_id,
        "seq": seq,
        "at": at.isoformat(),
        "actor": actor,
        "kind": kind,
        "data": data,
    }
    return hashlib.sha256(f"{prev_hash}\n".encode() + canonical(body)).hexdigest()


def canonical(body: dict[str, Any]) -> bytes:
    """The entry's canonical JSON: ``json.dumps`` with sorted keys, no spaces, UTF-8. For
    data of only text, integers, booleans, None, lists and objects with text keys (every
    alert's entry), orjson writes the same bytes in half the time; anything else (numbers
    with a fraction, integers over 64 bits, text json cannot encode) is left to json."""
    if _plain(body):
        try:
            return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate, a wide integer: json, as before
            pass
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def _plain(value: Any) -> bool:
    """Whether the value holds only what orjson and json write alike."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True  # (an integer orjson cannot write, over 64 bits, fails it: json's then)
    if kind is dict:
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if kind is list:
        return all(_plain(item) for item in value)
    return False


def append(
    *,
    session: Session,
    incident: Incident,
    at: datetime,
    actor: str,
    kind: str,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Add an entry; the caller holds the incident row lock."""
    entry = TimelineEntry(**_chain(incident, at, actor, kind, data or {}))
    session.add(entry)
    return entry


class Staged:
    """Entries chained now (the incident's count and head move at once, so ``append`` may
    follow) and inserted later with one statement: for code adding many entries."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self, *, incident: Incident, at: datetime, actor: str, kind: str, data: dict[str, Any]
    ) -> None:
        self.rows.append(_chain(incident, at, actor, kind, data))

    def insert(self, session: Session) -> None:
        """One Core statement on the session's connection: no ORM bulk machinery and no
        autoflush (the incidents the rows name are already in the database)."""
        if self.rows:
            lean.write(session, inserts(TIMELINE).plain, self.rows)
            self.rows = []


def _chain(
    incident: Incident, at: datetime, actor: str, kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    """The next entry's columns; moves the incident's count and head to it."""
    seq = incident.timeline_count + 1
    prev = incident.timeline_head or GENESIS
    digest = entry_hash(
        prev_hash=prev, incident_id=incident.id, seq=seq, at=at, actor=actor, kind=kind, data=data
    )
    incident.timeline_count = seq
    incident.timeline_head = digest
    incident.updated_at = at
    return {
        "incident_id": incident.id,
        "seq": seq,
        "at": at,
        "actor": actor,
        "kind": kind,
        "data": data,
        "prev_hash": prev,
        "hash": digest,
    }


def entries(*, session: Session, incident_id: int) -> Sequence[TimelineEntry]:
    query = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    return session.scalars(query.order_by(TimelineEntry.seq, TimelineEntry.id)).all()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify(*, session: Session, incident: Incident) -> Verdict:
    """Check the chain; name the first entry that was edited, removed or moved."""
    rows = entries(session=session, incident_id=incident.id)
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            return Verdict(
                False,
                expected_seq - 1,
                expected_seq,
                f"entry {expected_seq} is missing or out of order (found {row.seq})",
            )
        if row.prev_hash != prev:
            return Verdict(
                False,
                expected_seq - 1,
                row.seq,
                f"entry {row.seq} does not follow entry {row.seq - 1}",
            )
        digest = entry_hash(
            prev_hash=prev,
            incident_id=row.incident_id,
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            kind=row.kind,
            data=row.data,
        )
        if digest != row.hash:
            return Verdict(False, expected_seq - 1, row.seq, f"entry {row.seq} was altered")
        prev = row.hash
    if len(rows) != incident.timeline_count or prev != (incident.timeline_head or GENESIS):
        missing = len(rows) + 1
        return Verdict(
            False,
            len(rows),
            missing,
            f"entry {missing} is missing (the incident records "
            f"{incident.timeline_count} entries, {len(rows)} remain)",
        )
    return Verdict(True, len(rows))
