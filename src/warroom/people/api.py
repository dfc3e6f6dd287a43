"""The people directory API under /api/v1/people."""

from __future__ import annotations

from fastapi import APIRouter, status

from warroom.people import service
from warroom.people.schemas import PersonCreate, PersonRead
from warroom.web.deps import IdPath, Responder, RuntimeDep, Viewer

router = APIRouter(prefix="/api/v1/people", tags=["people"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonRead)
def add_person(body: PersonCreate, caller: Responder, runtime: RuntimeDep) -> PersonRead:
    """Add a person to the directory."""
    with runtime.transaction() as session:
        person = service.add(session=session, data=body, now=runtime.clock.now())
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
