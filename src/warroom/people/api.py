"""The people directory API under /api/v1/people."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import Field

from warroom.inputs import Input
from warroom.people import contacts, service
from warroom.people.contacts import ContactCreate, ContactRead
from warroom.people.schemas import NotificationRule, PersonCreate, PersonRead
from warroom.web.deps import Admin, IdPath, Responder, RuntimeDep, Viewer

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


contacts_router = APIRouter(prefix="/api/v1/contacts", tags=["people"])


@contacts_router.post("", status_code=status.HTTP_201_CREATED, response_model=ContactRead)
def add_contact(body: ContactCreate, caller: Admin, runtime: RuntimeDep) -> ContactRead:
    """Add an external contact (support, incident-response firm, legal, PR...)."""
    with runtime.transaction() as session:
        [added] = contacts.add_many(session=session, contacts=[body], now=runtime.clock.now())
        return ContactRead.model_validate(added)


@contacts_router.get("", response_model=list[ContactRead])
def list_contacts(
    caller: Viewer, runtime: RuntimeDep, kind: Annotated[contacts.Kind | None, Query()] = None
) -> list[ContactRead]:
    """Every external contact, by kind and name (``kind`` filters)."""
    with runtime.read() as session:
        found = contacts.list_contacts(session=session, kind=kind)
        return [ContactRead.model_validate(c) for c in found]


@contacts_router.get("/{contact_id}", response_model=ContactRead)
def get_contact(contact_id: IdPath, caller: Viewer, runtime: RuntimeDep) -> ContactRead:
    """One contact."""
    with runtime.read() as session:
        return ContactRead.model_validate(contacts.get(session=session, contact_id=contact_id))


@contacts_router.put("/{contact_id}", response_model=ContactRead)
def replace_contact(
    contact_id: IdPath, body: ContactCreate, caller: Admin, runtime: RuntimeDep
) -> ContactRead:
    """Replace a contact's details."""
    with runtime.transaction() as session:
        contact = contacts.get(session=session, contact_id=contact_id)
        contacts.replace(session=session, contact=contact, data=body, now=runtime.clock.now())
        return ContactRead.model_validate(contact)


@contacts_router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_contact(contact_id: IdPath, caller: Admin, runtime: RuntimeDep) -> None:
    """Remove a contact."""
    with runtime.transaction() as session:
        session.delete(contacts.get(session=session, contact_id=contact_id))
