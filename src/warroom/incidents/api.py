"""The incidents API under /api/v1/incidents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warroom.auth import policy
from warroom.incidents import changes, lifecycle, service, timeline, views, work
from warroom.incidents.models import Incident
from warroom.incidents.schemas import (
    IncidentCreate,
    IncidentFilter,
    IncidentPage,
    IncidentRead,
    IncidentUpdate,
    NoteCreate,
    RoleAssign,
    TaskRead,
    TaskSkip,
    TimelineEntryRead,
    TransitionRequest,
    VerifyRead,
)
from warroom.paging import escalation
from warroom.runtime import Runtime
from warroom.web.deps import IdPath, Responder, RuntimeDep, Viewer

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


def _read(runtime: Runtime, session: Session, incident: Incident) -> IncidentRead:
    return views.read_one(
        session=session, playbook=runtime.playbook, incident=incident, now=runtime.clock.now()
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IncidentRead)
def declare(
    body: IncidentCreate,
    caller: Responder,
    runtime: RuntimeDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> IncidentRead:
    """Declare an incident. A repeated ``Idempotency-Key`` returns the first result."""
    key = f"{caller.token_id}:{idempotency_key}" if idempotency_key else None
    for attempt in range(2):
        try:
            with runtime.transaction() as session:
                incident, created = service.declare(
                    session=session,
                    playbook=runtime.playbook,
                    data=body,
                    actor=caller.actor,
                    clock=runtime.clock,
                    idempotency_key=key,
                )
                if created and body.escalation_policy:
                    escalation.start(
                        session=session,
                        incident=incident,
                        policy_ref=body.escalation_policy,
                        actor=caller.actor,
                        now=runtime.clock.now(),
                        field="escalation_policy",
                    )
                read = _read(runtime, session, incident)
            break
        except IntegrityError:  # a concurrent request with the same key won the race
            if attempt or key is None:
                raise
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/incidents/{read.id}"
    return read


@router.get("", response_model=IncidentPage)
def list_incidents(
    caller: Viewer, runtime: RuntimeDep, filters: Annotated[IncidentFilter, Query()]
) -> IncidentPage:
    """Incidents, newest first, filtered by status, severity, type, text and creation time."""
    service.check_filters(runtime.playbook, filters)
    with runtime.read() as session:
        items, total = service.list_incidents(session=session, filters=filters)
        reads = views.read_many(
            session=session, playbook=runtime.playbook, incidents=items, now=runtime.clock.now()
        )
    return IncidentPage(items=reads, total=total, limit=filters.limit, offset=filters.offset)


@router.get("/{incident_id}", response_model=IncidentRead)
def get_incident(incident_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> IncidentRead:
    """One incident with its roles, phases, deadlines and tasks."""
    with runtime.read() as session:
        incident = service.get(session=session, incident_id=incident_id)
        return _read(runtime, session, incident)


@router.patch("/{incident_id}", response_model=IncidentRead)
def update_incident(
    incident_id: IdPath, body: IncidentUpdate, caller: Responder, runtime: RuntimeDep
) -> IncidentRead:
    """Change title, summary, severity or type; severity and type re-plan the phases."""
    with runtime.transaction() as session:
        current = service.get(session=session, incident_id=incident_id, lock=True)
        policy.check_retype(caller.role, current.type, body.type)
        incident = changes.update(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            changes=body,
            actor=caller.actor,
            clock=runtime.clock,
        )
        return _read(runtime, session, incident)


def _transition(action: lifecycle.Action) -> None:
    def endpoint(
        incident_id: IdPath,
        caller: Responder,
        runtime: RuntimeDep,
        body: TransitionRequest | None = None,
    ) -> IncidentRead:
        with runtime.transaction() as session:
            incident_type = service.get(session=session, incident_id=incident_id).type
            policy.check(caller.role, policy.for_action(action), incident_type=incident_type)
            incident = changes.transition(
                session=session,
                playbook=runtime.playbook,
                incident_id=incident_id,
                action=action,
                actor=caller.actor,
                clock=runtime.clock,
                note=body.note if body else "",
            )
            return _read(runtime, session, incident)

    endpoint.__doc__ = f"{action.capitalize()} the incident (409 when not allowed now)."
    router.add_api_route(
        f"/{{incident_id}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=IncidentRead,
        name=f"{action}_incident",
    )


for _action in lifecycle.TRANSITIONS:
    _transition(_action)


@router.put("/{incident_id}/roles/{role_key}", response_model=IncidentRead)
def assign_role(
    incident_id: IdPath, role_key: str, body: RoleAssign, caller: Responder, runtime: RuntimeDep
) -> IncidentRead:
    """Give a response role to a person."""
    with runtime.transaction() as session:
        incident = work.assign_role(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            role_key=role_key,
            person_id=body.person_id,
            actor=caller.actor,
            clock=runtime.clock,
        )
        return _read(runtime, session, incident)


@router.delete("/{incident_id}/roles/{role_key}", response_model=IncidentRead)
def unassign_role(
    incident_id: IdPath, role_key: str, caller: Responder, runtime: RuntimeDep
) -> IncidentRead:
    """Leave a response role unheld."""
    with runtime.transaction() as session:
        incident = work.unassign_role(
            session=session,
            incident_id=incident_id,
            role_key=role_key,
            actor=caller.actor,
            clock=runtime.clock,
        )
        return _read(runtime, session, incident)


@router.get("/{incident_id}/tasks", response_model=list[TaskRead])
def list_tasks(incident_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> list[TaskRead]:
    """The tasks of the incident's current plan, phase by phase."""
    with runtime.read() as session:
        incident = service.get(session=session, incident_id=incident_id)
        return [TaskRead.model_validate(t) for p in incident.phases if p.active for t in p.tasks]


def _task_route(verb: str, new_status: str) -> None:
    def endpoint(
        incident_id: IdPath,
        task: str,
        caller: Responder,
        runtime: RuntimeDep,
        body: TaskSkip | None = None,
    ) -> TaskRead:
        reason = body.reason if body else ""
        with runtime.transaction() as session:
            row = work.set_task(
                session=session,
                incident_id=incident_id,
                task_ref=task,
                status=new_status,
                actor=caller.actor,
                clock=runtime.clock,
                reason=reason,
            )
            return TaskRead.model_validate(row)

    endpoint.__doc__ = (
        f"Mark a task {new_status}; ``task`` is its id, key or "
        "phase-key/task-key." + (" A reason is required." if verb == "skip" else "")
    )
    router.add_api_route(
        f"/{{incident_id}}/tasks/{{task:path}}/{verb}",
        endpoint,
        methods=["POST"],
        response_model=TaskRead,
        name=f"{verb}_task",
    )


for _verb, _status in (("complete", "done"), ("skip", "skipped"), ("reopen", "open")):
    _task_route(_verb, _status)


@router.post(
    "/{incident_id}/notes", status_code=status.HTTP_201_CREATED, response_model=TimelineEntryRead
)
def add_note(
    incident_id: IdPath, body: NoteCreate, caller: Responder, runtime: RuntimeDep
) -> TimelineEntryRead:
    """Add a note to the timeline."""
    with runtime.transaction() as session:
        entry = work.add_note(
            session=session,
            incident_id=incident_id,
            text=body.text,
            actor=caller.actor,
            clock=runtime.clock,
        )
        return TimelineEntryRead.model_validate(entry)


@router.get("/{incident_id}/timeline", response_model=list[TimelineEntryRead])
def get_timeline(
    incident_id: IdPath, caller: Viewer, runtime: RuntimeDep
) -> list[TimelineEntryRead]:
    """Every entry of the timeline, oldest first."""
    with runtime.read() as session:
        service.get(session=session, incident_id=incident_id)
        rows = timeline.entries(session=session, incident_id=incident_id)
        return [TimelineEntryRead.model_validate(r) for r in rows]


@router.get("/{incident_id}/timeline/verify", response_model=VerifyRead)
def verify_timeline(incident_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> VerifyRead:
    """Check the hash chain; names the first edited, removed or re-ordered entry."""
    with runtime.read() as session:
        incident = service.get(session=session, incident_id=incident_id)
        verdict = timeline.verify(session=session, incident=incident)
        return VerifyRead(
            ok=verdict.ok,
            checked=verdict.checked,
            first_bad_seq=verdict.first_bad_seq,
            problem=verdict.problem,
        )
