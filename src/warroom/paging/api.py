"""Escalation policies and incident escalations under /api/v1."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from warroom.errors import NotFound
from warroom.incidents import assembly
from warroom.incidents.models import Incident
from warroom.incidents.service import get, lock_row
from warroom.inputs import Input
from warroom.paging import escalation, policies
from warroom.paging.policies import PolicyCreate, PolicyRead
from warroom.people.schemas import PersonRead
from warroom.web.deps import Admin, IdPath, Responder, RuntimeDep, Viewer

router = APIRouter(prefix="/api/v1", tags=["paging"])


class EscalateRequest(Input):
    policy: str = Field(min_length=1, max_length=100, description="Policy name or id.")


class PageRequest(Input):
    role: str = Field(min_length=1, max_length=100, description="Role key or name.")


class PageRead(BaseModel):
    role: str
    role_name: str
    person: PersonRead


class EscalationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    policy_name: str
    status: str
    round: int
    level: int
    started_at: datetime
    ended_at: datetime | None
    ended_because: str


@router.post("/escalation-policies", status_code=status.HTTP_201_CREATED, response_model=PolicyRead)
def create_policy(body: PolicyCreate, caller: Admin, runtime: RuntimeDep) -> PolicyRead:
    """Create an escalation policy: levels of people and schedules, each with a timeout."""
    with runtime.transaction() as session:
        return policies.read(policies.create(session=session, data=body, now=runtime.clock.now()))


@router.get("/escalation-policies", response_model=list[PolicyRead])
def list_policies(caller: Viewer, runtime: RuntimeDep) -> list[PolicyRead]:
    """Every escalation policy, by name."""
    with runtime.read() as session:
        return [policies.read(p) for p in policies.list_policies(session=session)]


@router.get("/escalation-policies/{policy_id}", response_model=PolicyRead)
def get_policy(policy_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> PolicyRead:
    """One escalation policy."""
    with runtime.read() as session:
        return policies.read(policies.get(session=session, policy_id=policy_id))


@router.put("/escalation-policies/{policy_id}", response_model=PolicyRead)
def replace_policy(
    policy_id: IdPath, body: PolicyCreate, caller: Admin, runtime: RuntimeDep
) -> PolicyRead:
    """Replace a policy; escalations already running keep the version they started with."""
    with runtime.transaction() as session:
        policy = policies.get(session=session, policy_id=policy_id)
        policies.replace(session=session, policy=policy, data=body, now=runtime.clock.now())
        return policies.read(policy)


@router.post(
    "/incidents/{incident_id}/escalate",
    status_code=status.HTTP_201_CREATED,
    response_model=EscalationRead,
)
def escalate(
    incident_id: IdPath, body: EscalateRequest, caller: Responder, runtime: RuntimeDep
) -> EscalationRead:
    """Start paging for a triggered incident with a policy, level by level until someone
    acknowledges (or the incident is resolved)."""
    with runtime.transaction() as session:
        incident = lock_row(session=session, incident_id=incident_id)
        started = escalation.start(
            session=session,
            incident=incident,
            policy_ref=body.policy,
            actor=caller.actor,
            now=runtime.clock.now(),
        )
        return EscalationRead.model_validate(started)


@router.get("/incidents/{incident_id}/escalations", response_model=list[EscalationRead])
def list_escalations(
    incident_id: IdPath, caller: Viewer, runtime: RuntimeDep
) -> list[EscalationRead]:
    """The incident's escalations: which policy, where each stands, why it ended."""
    with runtime.read() as session:
        if session.get(Incident, incident_id) is None:
            raise NotFound(f"incident {incident_id} not found", details={"field": "incident_id"})
        return [
            EscalationRead.model_validate(e)
            for e in escalation.of_incident(session=session, incident_id=incident_id)
        ]


@router.post(
    "/incidents/{incident_id}/page", status_code=status.HTTP_202_ACCEPTED, response_model=PageRead
)
def page_role(
    incident_id: IdPath, body: PageRequest, caller: Responder, runtime: RuntimeDep
) -> PageRead:
    """Page a response role (an extended-team one such as the Database Administrator):
    whoever holds it, or else whoever is on call on the role's schedule, who then holds it.
    The page goes out over their notification rules."""
    role = assembly.find_role(runtime.playbook, body.role)
    with runtime.transaction() as session:
        incident = get(session=session, incident_id=incident_id, lock=True)
        person = assembly.page_role(
            session=session,
            incident=incident,
            role=role,
            actor=caller.actor,
            now=runtime.clock.now(),
        )
        return PageRead(
            role=role.key, role_name=role.name, person=PersonRead.model_validate(person)
        )
