"""The read-only directory pages: alerts, who is on call, people, and the playbook."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy.orm import Session

from warroom.alerts import integrations
from warroom.alerts.queries import list_alerts
from warroom.alerts.schemas import AlertFilter, AlertRead
from warroom.errors import InvalidInput, NotFound
from warroom.oncall import service as oncall
from warroom.oncall import teams
from warroom.oncall.models import Schedule
from warroom.paging import policies
from warroom.people import contacts
from warroom.people import service as people
from warroom.people.schemas import PersonRead
from warroom.playbook.duration import format_duration
from warroom.playbook.schema import Playbook, Task, Window
from warroom.web.deps import RuntimeDep
from warroom.web.pages.common import User, first_problem, page_number, render

router = APIRouter(include_in_schema=False)
PAGE = 25
MAX_PARAM = 1_000  # longer query values are cut, so a huge URL costs nothing
ALERT_STATUSES = ("firing", "resolved")
WEEK = timedelta(days=7)
BREAK_AFTER = re.compile(r"(?<=[@./_-])(?=.)")


def breakable(text: str | None) -> Markup:
    """Text that may wrap after @ . / _ - : long emails, URLs and zone names fit a phone."""
    return Markup("<wbr>").join(escape(part) for part in BREAK_AFTER.split(text or ""))


def _show(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """``render`` with the helpers these pages' templates use."""
    helpers = {"breakable": breakable, "duration": format_duration}
    return render(request, name, helpers | context, status_code=status_code)


def _page_link(path: str, params: dict[str, str], page: int) -> str:
    """A link to another page of the same list: relative, so proxies need no care."""
    return f"{path}?{urlencode({k: v for k, v in params.items() if v} | {'page': page})}"


def _alert_filter(params: dict[str, str], page: int) -> AlertFilter:
    """The filter the query asks for; InvalidInput naming the first bad field."""
    try:
        return AlertFilter(
            status=params["status"] or None,
            q=params["q"] or None,
            integration=params["integration"] or None,
            limit=PAGE,
            offset=(page - 1) * PAGE,
        )
    except ValidationError as exc:
        raise first_problem(exc, "filter") from exc


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    params = {
        k: request.query_params.get(k, "")[:MAX_PARAM] for k in ("status", "q", "integration")
    }
    page = page_number(request)
    context: dict[str, Any] = {"params": params, "page": page, "nav": "alerts"}
    context |= {"statuses": ALERT_STATUSES, "items": [], "total": 0, "pages": 1}
    context |= {"problem": "", "field": ""}
    with runtime.read() as session:
        sources = {i.id: i.name for i in integrations.list_integrations(session=session)}
        context["integrations"] = sources
        try:
            rows, total = list_alerts(session=session, filters=_alert_filter(params, page))
        except InvalidInput as exc:
            context |= {"problem": exc.message, "field": exc.field}
            return _show(request, "alerts.html", context, status_code=422)
        except NotFound as exc:  # an integration by that name does not exist
            context |= {"problem": f"integration: {exc.message}", "field": "integration"}
            return _show(request, "alerts.html", context, status_code=422)
        items = [AlertRead.model_validate(row) for row in rows]
    pages = max(1, -(-total // PAGE))
    context |= {"items": items, "total": total, "pages": pages}
    context["prev_url"] = _page_link("/alerts", params, page - 1) if page > 1 else ""
    context["next_url"] = _page_link("/alerts", params, page + 1) if page < pages else ""
    return _show(request, "alerts.html", context)


def _schedule(session: Session, schedule: Schedule, now: datetime) -> dict[str, Any]:
    """One schedule as the on-call page shows it: now, the coming week, overrides, gaps."""
    shown = [o for o in oncall.overrides(session=session, schedule=schedule) if o.ends_at > now]

    def name(person_id: int | None) -> str | None:
        return None if person_id is None else people.get(session=session, person_id=person_id).name

    return {
        "id": schedule.id,
        "name": schedule.name,
        "timezone": schedule.timezone,
        "description": schedule.description,
        "on_call": oncall.on_call_read(session=session, schedule=schedule, at=now),
        "shifts": oncall.span_reads(session=session, schedule=schedule, start=now, end=now + WEEK),
        "overrides": [
            {
                "person": name(o.person_id),
                "replaces": name(o.replaces_id),
                "starts_at": o.starts_at,
                "ends_at": o.ends_at,
                "note": o.note,
            }
            for o in shown
        ],
        "gaps": oncall.gaps(session=session, schedule=schedule, now=now),
    }


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    now = runtime.clock.now()
    with runtime.read() as session:
        schedules = [_schedule(session, s, now) for s in oncall.list_schedules(session=session)]
        escalations = [policies.read(p) for p in policies.list_policies(session=session)]
    context: dict[str, Any] = {"schedules": schedules, "policies": escalations}
    context |= {"gap_horizon": oncall.GAP_HORIZON, "nav": "oncall"}
    return _show(request, "oncall.html", context)


@router.get("/people", response_class=HTMLResponse)
def people_page(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    with runtime.read() as session:
        everyone = [PersonRead.model_validate(p) for p in people.list_people(session=session)]
        all_teams = [teams.read(session=session, team=t) for t in teams.list_teams(session=session)]
        outside = [
            contacts.ContactRead.model_validate(c) for c in contacts.list_contacts(session=session)
        ]
    context: dict[str, Any] = {"people": everyone, "teams": all_teams, "contacts": outside}
    context["nav"] = "people"
    return _show(request, "people.html", context)


def window_text(window: Window) -> str:
    """A phase's window as read aloud: '15m to 30m', or '30m on' when it has no end."""
    start = format_duration(window.start)
    return f"{start} on" if window.end is None else f"{start} to {format_duration(window.end)}"


def sections(tasks: Iterable[Task]) -> list[tuple[str, list[Task]]]:
    """Tasks grouped by their section, in playbook order ('' for tasks without one)."""
    return [(name, list(group)) for name, group in groupby(tasks, key=lambda t: t.section)]


def phase_sets(playbook: Playbook) -> list[dict[str, Any]]:
    """Each phase set, its severity (if named after one) and the plans that run it."""
    used_by: dict[str, list[str]] = {}
    for type_key, by_severity in playbook.plans.items():
        incident_type = playbook.incident_type(type_key)
        label = incident_type.name if incident_type else type_key
        for severity, names in by_severity.items():
            for name in names:
                used_by.setdefault(name, []).append(f"{label} {severity}")
    return [
        {
            "key": key,
            "severity": playbook.severity(key),
            "phases": phases,
            "used_by": used_by.get(key, []),
        }
        for key, phases in playbook.phases.items()
    ]


@router.get("/playbook", response_class=HTMLResponse)
def playbook_page(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    context: dict[str, Any] = {
        "phase_sets": phase_sets(runtime.playbook),
        "sections": sections,
        "window_text": window_text,
        "nav": "playbook",
    }
    return _show(request, "playbook.html", context)
