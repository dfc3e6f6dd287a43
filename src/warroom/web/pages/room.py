"""The incident room: everything about one incident, and the forms that act on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from warroom.alerts.queries import list_alerts
from warroom.alerts.schemas import AlertFilter
from warroom.incidents import service, timeline, views
from warroom.people import service as people
from warroom.runtime import Runtime
from warroom.web.deliveries import DeliveryFilter, find_deliveries
from warroom.web.deps import IdPath, RuntimeDep
from warroom.web.pages.common import User, render

router = APIRouter(include_in_schema=False)
SHOWN = 100


def room_data(runtime: Runtime, incident_id: int) -> dict[str, Any]:
    """The incident, its timeline (newest first), alerts, deliveries and the directory."""
    now = runtime.clock.now()
    with runtime.read() as session:
        row = service.get(session=session, incident_id=incident_id)
        incident = views.read_one(session=session, playbook=runtime.playbook, incident=row, now=now)
        entries = list(reversed(timeline.entries(session=session, incident_id=incident_id)))
        alerts, alert_count = list_alerts(
            session=session, filters=AlertFilter(incident_id=incident_id, limit=SHOWN)
        )
        deliveries, delivery_count = find_deliveries(
            session=session, filters=DeliveryFilter(incident_id=incident_id, limit=SHOWN)
        )
        directory = [(p.id, p.name) for p in people.list_people(session=session)]
    return {
        "incident": incident,
        "entries": entries,
        "alerts": alerts,
        "alert_count": alert_count,
        "deliveries": deliveries,
        "delivery_count": delivery_count,
        "directory": directory,
        "extended_roles": [r for r in runtime.playbook.roles if r.team == "extended"],
        "live": f"/live/incidents/{incident_id}",
        "page_url": f"/incidents/{incident_id}",
        "nav": "incidents",
    }


def show_room(
    request: Request,
    runtime: Runtime,
    incident_id: int,
    *,
    form: str = "",
    problem: str = "",
    values: Mapping[str, str] | None = None,
    field: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """The room; after a refused form, with that form's input kept and its problem named."""
    context = room_data(runtime, incident_id) | {
        "form": form,
        "problem": problem,
        "values": dict(values or {}),
        "field": field,
    }
    return render(request, "incident.html", context, status_code=status_code)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def room(request: Request, incident_id: IdPath, user: User, runtime: RuntimeDep) -> HTMLResponse:
    return show_room(request, runtime, incident_id)
