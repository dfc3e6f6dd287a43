"""The page an acknowledgement link opens: the incident and one button (GET shows, only the
button's POST acknowledges, so a mail scanner that follows links acknowledges nothing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from warroom.errors import Forbidden, NotFound
from warroom.incidents import changes
from warroom.incidents.service import lock_row
from warroom.paging import links
from warroom.people.models import Person
from warroom.runtime import Runtime

router = APIRouter(include_in_schema=False)
MAX_TOKEN = 500


def _show(request: Request, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "acknowledge.html",
        {"problem": None, "done": None, **context},
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _act(runtime: Runtime, token: str, acknowledge: bool) -> dict[str, Any]:
    """What the page shows; acknowledges first when asked and still triggered."""
    if len(token) > MAX_TOKEN:
        raise Forbidden("this acknowledgement link is not valid")
    holder = links.read(secret_key=runtime.secret_key, token=token)
    with runtime.transaction() as session:
        person = session.get(Person, holder.person_id)
        if person is None:
            raise Forbidden("the person this link was made for is no longer in the directory")
        incident = lock_row(session=session, incident_id=holder.incident_id)
        done = None
        if acknowledge and incident.status == "triggered":
            incident = changes.transition(
                session=session,
                playbook=runtime.playbook,
                incident_id=incident.id,
                action="acknowledge",
                actor=f"person:{person.name}",
                clock=runtime.clock,
                note="acknowledged from the link in a page",
            )
            done = "Acknowledged. Paging for this incident has stopped."
        return {
            "incident": {
                "id": incident.id,
                "title": incident.title,
                "severity": incident.severity,
                "status": incident.status,
            },
            "person": {"name": person.name},
            "done": done,
        }


async def _respond(request: Request, token: str, acknowledge: bool) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    try:
        context = await run_in_threadpool(_act, runtime, token, acknowledge)
    except Forbidden as exc:
        return _show(request, {"problem": exc.message}, status_code=403)
    except NotFound:
        return _show(request, {"problem": "this incident no longer exists"}, status_code=404)
    return _show(request, context)


@router.get("/ack/{token}", response_class=HTMLResponse)
async def show(request: Request, token: str) -> HTMLResponse:
    return await _respond(request, token, acknowledge=False)


@router.post("/ack/{token}", response_class=HTMLResponse)
async def acknowledge(request: Request, token: str) -> HTMLResponse:
    return await _respond(request, token, acknowledge=True)
