"""The people directory API under /api/v1/people."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import Field

from warroom.inputs import Input
from warroom.people import service
from warroom.people.schemas import NotificationRule, PersonCreate, PersonRead
from warroom.web.deps import IdPath, Responder, RuntimeDep, Viewer

router = APIRouter(prefix="/api/v1/people", tags=["people"])


class RulesUpdate(Input):
    rules: list[NotificationRule] = Field(max_length=10)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonRead)
def add_person(body: PersonCreate, caller: Responder, runtime: RuntimeDep) -> PersonRead:
    """Add a person to the directory."""
    with runtime.transaction() as session:
        person = service.add(
            session=session, data=body, now=runtime.clock.now(), channels=runtime.channels
        )
        return PersonRead.model_validate(person)


@router.get("", response_model=list[PersonRead])
def list_people(caller: Viewer, runtime: RuntimeDep) -> list[PersonRead]:
    """Everyone in the directory, by name."""
    with runtime.read() as session:
        return [PersonRead.model_validate(p) for p in service.list_people(session=session)]


@router.get("/{person_id}", response_model=PersonRead)
def get_person(person_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> PersonRead:
    """One person."""
    with runtime.read() as session:
        return PersonRead.model_validate(service.get(session=session, person_id=person_id))


@router.put("/{person_id}/notification-rules", response_model=PersonRead)
def set_notification_rules(
    person_id: IdPath, body: RulesUpdate, caller: Responder, runtime: RuntimeDep
) -> PersonRead:
    """Replace how pages reach the person: channels, each some seconds after the page (no
    rules: every paging channel at once)."""
    with runtime.transaction() as session:
        person = service.get(session=session, person_id=person_id)
        service.set_rules(person=person, rules=body.rules, channels=runtime.channels)
        return PersonRead.model_validate(person)
