"""The incident room's forms: each checks CSRF and the policy, acts, and goes back to the room.

A refused form shows the room again with the input kept and the problem named; a form
filled in on an older revision of the incident is not applied over the newer one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from warroom.auth import policy
from warroom.auth.sessions import SignedIn
from warroom.errors import Conflict, InvalidInput, NotFound, WarroomError
from warroom.incidents import assembly, changes, lifecycle, service, work
from warroom.incidents.models import Incident
from warroom.incidents.schemas import IncidentUpdate
from warroom.people import service as people
from warroom.runtime import Runtime
from warroom.web.deps import IdPath, RuntimeDep
from warroom.web.pages.common import User, check_csrf, first_problem
from warroom.web.pages.room import show_room

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=20_000)]
Short = Annotated[str, Form(max_length=300)]


def _refused(
    request: Request,
    runtime: Runtime,
    incident_id: int,
    form: str,
    values: dict[str, str],
    exc: WarroomError,
) -> Response:
    """The room again, the form's input kept, saying what was refused and where."""
    return show_room(
        request,
        runtime,
        incident_id,
        form=form,
        problem=exc.message,
        values=values,
        field=str(exc.details.get("field", "")),
        status_code=exc.http_status,
    )


def _apply(
    request: Request,
    runtime: Runtime,
    user: SignedIn,
    incident_id: int,
    *,
    form: str,
    values: dict[str, str],
    permission: policy.Permission,
    act: Callable[[Session, Incident], object],
    anchor: str = "",
) -> Response:
    """Check CSRF and permission, run ``act`` in a transaction, and answer the browser."""
    check_csrf(user, values.pop("csrf", ""))
    try:
        with runtime.transaction() as session:
            incident = service.get(session=session, incident_id=incident_id, lock=True)
            policy.check(user.role, permission, incident_type=incident.type)
            revision = values.get("revision", "")
            if revision and revision != str(incident.timeline_count):
                raise Conflict(
                    "this incident changed while you were editing (someone else acted on it); "
                    "your input is kept below: check the incident and submit again",
                    details={"field": "revision"},
                )
            act(session, incident)
    except ValidationError as exc:
        return _refused(request, runtime, incident_id, form, values, first_problem(exc, form))
    except (InvalidInput, Conflict, NotFound) as exc:  # the room itself may be gone: a 404
        return _refused(request, runtime, incident_id, form, values, exc)
    return RedirectResponse(f"/incidents/{incident_id}{anchor}", status_code=303)


@router.post("/incidents/{incident_id}/act")
def act(
    request: Request,
    incident_id: IdPath,
    user: User,
    runtime: RuntimeDep,
    action: Short = "",
    note: Text = "",
    csrf: Short = "",
) -> Response:
    """Acknowledge, mitigate, resolve, close, reopen."""
    if action not in lifecycle.TRANSITIONS:
        raise NotFound(f"no action {action!r}", details={"field": "action"})
    chosen: lifecycle.Action = action

    def run(session: Session, incident: Incident) -> None:
        changes.transition(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            action=chosen,
            actor=user.actor,
            clock=runtime.clock,
            note=note,
        )

    return _apply(
        request,
        runtime,
        user,
        incident_id,
        form="act",
        values={"csrf": csrf, "action": action, "note": note},
        permission=policy.for_action(action),
        act=run,
    )


@router.post("/incidents/{incident_id}/note")
def note(
    request: Request,
    incident_id: IdPath,
    user: User,
    runtime: RuntimeDep,
    text: Text = "",
    csrf: Short = "",
) -> Response:
    def run(session: Session, incident: Incident) -> None:
        work.add_note(
            session=session,
            incident_id=incident_id,
            text=text,
            actor=user.actor,
            clock=runtime.clock,
        )

    return _apply(
        request,
        runtime,
        user,
        incident_id,
        form="note",
        values={"csrf": csrf, "text": text},
        permission="respond",
        act=run,
        anchor="#timeline",
    )


@router.post("/incidents/{incident_id}/tasks/{task_id}")
def task(
    request: Request,
    incident_id: IdPath,
    task_id: IdPath,
    user: User,
    runtime: RuntimeDep,
    status: Short = "",
    reason: Text = "",
    csrf: Short = "",
) -> Response:
    """Complete, skip (with a reason) or reopen a task."""

    def run(session: Session, incident: Incident) -> None:
        work.set_task(
            session=session,
            incident_id=incident_id,
            task_ref=str(task_id),
            status=status,
            actor=user.actor,
            clock=runtime.clock,
            reason=reason,
        )

    return _apply(
        request,
        runtime,
        user,
        incident_id,
        form=f"task-{task_id}",
        values={"csrf": csrf, "status": status, "reason": reason},
        permission="respond",
        act=run,
        anchor=f"#task-{task_id}",
    )


@router.post("/incidents/{incident_id}/roles")
def assign(
    request: Request,
    incident_id: IdPath,
    user: User,
    runtime: RuntimeDep,
    role: Short = "",
    person: Short = "",
    csrf: Short = "",
) -> Response:
    """Give a role to someone from the directory, or leave it unheld (no person)."""

    def run(session: Session, incident: Incident) -> None:
        if not person:
            work.unassign_role(
                session=session,
                incident_id=incident_id,
                role_key=role,
                actor=user.actor,
                clock=runtime.clock,
            )
            return
        found = people.find(session=session, ref=person)
        work.assign_role(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            role_key=role,
            person_id=found.id,
            actor=user.actor,
            clock=runtime.clock,
        )

    return _apply(
        request,
        runtime,
        user,
        incident_id,
        form="roles",
        values={"csrf": csrf, "role": role, "person": person},
        permission="respond",
        act=run,
    )


@router.post("/incidents/{incident_id}/edit")
def edit(
    request: Request,
    incident_id: IdPath,
    user: User,
    runtime: RuntimeDep,
    severity: Short = "",
    type: Short = "",
    reason: Text = "",
    revision: Short = "",
    csrf: Short = "",
) -> Response:
    """Change severity or type (the phases re-plan), refusing a stale form."""

    def run(session: Session, incident: Incident) -> None:
        policy.check_retype(user.role, incident.type, type or None)
        changes.update(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            changes=IncidentUpdate(severity=severity or None, type=type or None, reason=reason),
            actor=user.actor,
            clock=runtime.clock,
        )

    values = {"csrf": csrf, "severity": severity, "type": type, "reason": reason}
    return _apply(
        request,
        runtime,
        user,
        incident_id,
        form="edit",
        values=values | {"revision": revision},
        permission="respond",
        act=run,
    )


@router.post("/incidents/{incident_id}/page")
def page(
    request: Request,
    incident_id: IdPath,
    user: User,
    runtime: RuntimeDep,
    role: Short = "",
    csrf: Short = "",
) -> Response:
    """Page an (extended-team) role: its holder, or whoever is on call for it."""

    def run(session: Session, incident: Incident) -> None:
        found = assembly.find_role(runtime.playbook, role)
        assembly.page_role(
            session=session,
            incident=incident,
            role=found,
            actor=user.actor,
            now=runtime.clock.now(),
        )

    return _apply(
        request,
        runtime,
        user,
        incident_id,
        form="page",
        values={"csrf": csrf, "role": role},
        permission="respond",
        act=run,
    )
