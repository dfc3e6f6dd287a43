"""The incidents list (search, filters, pages) and declaring a new incident."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from warroom.auth import policy
from warroom.auth.sessions import SignedIn
from warroom.errors import InvalidInput, WarroomError
from warroom.incidents import service, views
from warroom.incidents.lifecycle import STATUSES
from warroom.incidents.schemas import IncidentCreate, IncidentFilter
from warroom.playbook.severity import Impact, suggest_severity
from warroom.web.deps import RuntimeDep
from warroom.web.pages.common import User, check_csrf, first_problem, page_number, render

router = APIRouter(include_in_schema=False)
PAGE = 25
Field = Annotated[str, Form(max_length=20_000)]


def _day(value: str, zone: str, field: str, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD from a date input, as the start (or end) of that day in the user's zone."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise InvalidInput(field, "must be a date such as 2026-11-27") from exc
    moment = datetime.combine(day, time.max if end else time.min, tzinfo=ZoneInfo(zone))
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # the first or last day there is, shifted past the calendar
        raise InvalidInput(field, "must be a date between the years 1 and 9999") from exc


def _filters(params: dict[str, str], user: SignedIn, page: int) -> IncidentFilter:
    try:
        filters = IncidentFilter(
            status=[params["status"]] if params.get("status") else None,
            severity=[params["severity"]] if params.get("severity") else None,
            type=[params["type"]] if params.get("type") else None,
            q=params.get("q") or None,
            created_after=_day(params.get("from", ""), user.time_zone, "from"),
            created_before=_day(params.get("to", ""), user.time_zone, "to", end=True),
            limit=PAGE,
            offset=(page - 1) * PAGE,
        )
    except ValidationError as exc:
        raise first_problem(exc, "filter") from exc
    return filters


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    keys = ("status", "severity", "type", "q", "from", "to")
    params = {k: request.query_params.get(k, "")[:200] for k in keys}
    page = page_number(request)
    context: dict[str, Any] = {"params": params, "page": page, "nav": "incidents"}
    context |= {"statuses": STATUSES, "items": [], "total": 0, "pages": 1, "problem": ""}
    try:
        filters = _filters(params, user, page)
        service.check_filters(runtime.playbook, filters)
    except InvalidInput as exc:
        context |= {"problem": exc.message, "field": exc.field}
        return render(request, "incidents.html", context, status_code=422)
    with runtime.read() as session:
        rows, total = service.list_incidents(session=session, filters=filters)
        items = views.read_many(
            session=session, playbook=runtime.playbook, incidents=rows, now=runtime.clock.now()
        )
    context |= {"items": items, "total": total, "pages": max(1, -(-total // PAGE))}
    return render(request, "incidents.html", context)


def _declare_form(
    request: Request, values: dict[str, str], *, problem: str = "", field: str = "", **extra: Any
) -> HTMLResponse:
    context = {"values": values, "problem": problem, "field": field, "nav": "incidents"} | extra
    return render(request, "declare.html", context, status_code=422 if problem else 200)


@router.get("/incidents/new", response_class=HTMLResponse)
def declare_page(request: Request, user: User) -> HTMLResponse:
    policy.check(user.role, "respond")
    return _declare_form(request, {"type": "operational", "outage": "none"})


@router.post("/incidents")
def declare(
    request: Request,
    user: User,
    runtime: RuntimeDep,
    title: Field = "",
    summary: Field = "",
    severity: Field = "",
    type: Field = "operational",
    outage: Field = "none",
    breach: Field = "",
    security: Field = "",
    users_affected: Field = "",
    intent: Field = "declare",
    csrf: Field = "",
) -> Response:
    """Declare; or, with intent=suggest, show the severity the playbook suggests."""
    check_csrf(user, csrf)
    policy.check(user.role, "respond")
    values = {"title": title, "summary": summary, "severity": severity, "type": type}
    values |= {"outage": outage, "breach": breach, "security": security}
    values["users_affected"] = users_affected
    if intent == "suggest":
        try:
            impact = Impact(
                outage=outage,
                breach=bool(breach),
                security=bool(security),
                users_affected_percent=float(users_affected or 0),
            )
        except (ValidationError, ValueError):
            return _declare_form(
                request,
                values,
                problem="users affected: give a share from 0 to 100 (percent)",
                field="users_affected",
            )
        key = suggest_severity(runtime.playbook, impact)
        values["severity"] = key
        if security or breach:
            values["type"] = "security" if runtime.playbook.incident_type("security") else type
        return _declare_form(request, values, suggested=runtime.playbook.severity(key))
    try:
        data = IncidentCreate(title=title, summary=summary, severity=severity, type=type)
        with runtime.transaction() as session:
            incident, _ = service.declare(
                session=session,
                playbook=runtime.playbook,
                data=data,
                actor=user.actor,
                clock=runtime.clock,
            )
            new_id = incident.id
    except ValidationError as exc:
        refused = first_problem(exc, "title")
        return _declare_form(request, values, problem=refused.message, field=refused.field)
    except WarroomError as exc:
        name = str(exc.details.get("field", ""))
        return _declare_form(request, values, problem=exc.message, field=name)
    return RedirectResponse(f"/incidents/{new_id}", status_code=303)
