"""The dashboard: what is burning, what is due, who is on call, what just fired."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from warroom.alerts.queries import latest_alerts
from warroom.incidents import queries
from warroom.oncall import service as oncall
from warroom.runtime import Runtime
from warroom.web.deps import RuntimeDep
from warroom.web.pages.common import User, render

router = APIRouter(include_in_schema=False)
RECENT_ALERTS = 10


def dashboard_data(runtime: Runtime) -> dict[str, Any]:
    """Everything the dashboard shows, read in one transaction."""
    now = runtime.clock.now()
    playbook = runtime.playbook
    rank = {s.key: i for i, s in enumerate(playbook.severities)}
    with runtime.read() as session:
        incidents = queries.open_cards(session=session, now=now)
        overdue = queries.overdue_tasks(session=session, now=now)
        on_call = oncall.on_call_everywhere(session=session, at=now)
        alerts = latest_alerts(session=session, limit=RECENT_ALERTS)
        change = queries.last_change(session=session)
    incidents.sort(key=lambda i: (rank.get(i.severity, len(rank)), -i.created_at.timestamp()))
    return {
        "incidents": incidents,
        "overdue": overdue,
        "on_call": on_call,
        "alerts": alerts,
        "change": change,
    }


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    context = dashboard_data(runtime) | {"nav": "dashboard", "live": "/live"}
    return render(request, "dashboard.html", context)
