"""Summons: the page that calls a person to an incident in a response role (team assembly,
or a role paged on demand). It goes out over the person's notification rules like any page,
and stops once the incident is mitigated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.service import lock_row
from warroom.notify.models import SUMMONS
from warroom.paging.pager import Pager
from warroom.people.models import Person


def run(*, session: Session, payload: dict[str, Any], now: datetime, pager: Pager) -> None:
    """Page the person for the role, unless the incident moved past needing them."""
    incident = lock_row(session=session, incident_id=int(payload["incident_id"]))
    person = session.get(Person, int(payload["person_id"]))
    if person is None or incident.status not in ("triggered", "acknowledged"):
        return
    role = {"key": payload["role"], "name": payload["role_name"]}
    pager.page(
        session,
        person=person,
        incident=incident,
        now=now,
        page_id=f"summons-{incident.id}-{role['key']}-{person.id}-{incident.timeline_count}",
        about={"role": role},
        kind=SUMMONS,
    )
    timeline.append(
        session=session,
        incident=incident,
        at=now,
        actor="warroom",
        kind="summoned",
        data={"role": role["key"], "role_name": role["name"], "person_id": person.id},
    )
