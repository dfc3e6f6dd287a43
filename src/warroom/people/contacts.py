"""External contacts: whom to call outside the rotations (the procedures' Emergency
Contacts: hosting provider support, security incident-response firm, legal counsel, PR)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.errors import Conflict, NotFound
from warroom.inputs import Email, Input, Phone, named
from warroom.people.models import Contact

Kind = Literal["support", "incident-response", "legal", "pr", "vendor", "regulator", "other"]
FIELDS = ("name", "kind", "organisation", "phone", "email", "url", "notes")


class ContactCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    organisation: str = Field(default="", max_length=200)
    phone: Phone = Field(default=None, description="E.164, e.g. +18005550100")
    email: Email = Field(default=None, max_length=320)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://\S+$")
    notes: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _reachable(self) -> ContactCreate:
        if not (self.phone or self.email or self.url):
            raise ValueError("give at least one of phone, email and url")
        return self


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    organisation: str
    phone: str | None
    email: str | None
    url: str | None
    notes: str
    created_at: datetime
    updated_at: datetime


def _refuse_taken(session: Session, name: str, other_than: int | None = None) -> None:
    query = select(Contact.id).where(Contact.name == name)
    if other_than is not None:
        query = query.where(Contact.id != other_than)
    if session.scalar(query) is not None:
        raise Conflict(f"a contact named {name!r} exists", details={"field": "name"})


def add_many(
    *, session: Session, contacts: Sequence[ContactCreate], now: datetime
) -> list[Contact]:
    """Add contacts, all or none; a name already taken (or given twice) is a conflict."""
    names = [c.name for c in contacts]
    for name in names:
        if names.count(name) > 1:
            raise Conflict(f"name: {name!r} appears twice", details={"field": "name"})
        _refuse_taken(session, name)
    added = [Contact(**c.model_dump(), created_at=now, updated_at=now) for c in contacts]
    session.add_all(added)
    session.flush()
    return added


def replace(*, session: Session, contact: Contact, data: ContactCreate, now: datetime) -> None:
    _refuse_taken(session, data.name, other_than=contact.id)
    for key, value in data.model_dump().items():
        setattr(contact, key, value)
    contact.updated_at = now


def get(*, session: Session, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found", details={"field": "contact_id"})
    return contact


def find(*, session: Session, ref: str) -> Contact:
    return named(session, Contact, ref, what="contact", field="contact")


def list_contacts(*, session: Session, kind: str | None = None) -> Sequence[Contact]:
    query = select(Contact).order_by(Contact.kind, Contact.name)
    if kind is not None:
        query = query.where(Contact.kind == kind)
    return session.scalars(query).all()
