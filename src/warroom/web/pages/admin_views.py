"""What the admin pages read, and the few changes they make that no service offers:
turning a user's access off and on, changing a user under the self-protection rules,
revoking a token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.alerts import integrations
from warroom.alerts.models import Integration
from warroom.auth import service as auth
from warroom.auth import sessions, users
from warroom.auth.models import ApiToken, User
from warroom.auth.policy import ROLES
from warroom.errors import Conflict, NotFound
from warroom.notify import testing
from warroom.runtime import Runtime


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones this system knows, for the time zone field's suggestions."""
    return tuple(sorted(available_timezones()))


@dataclass(frozen=True)
class IntegrationRow:
    """An integration as its page shows it: the URL its source posts to holds the key."""

    id: int
    name: str
    kind: str
    url: str
    key: str
    requires_token: bool
    created_at: datetime


def integration_row(runtime: Runtime, integration: Integration) -> IntegrationRow:
    return IntegrationRow(
        id=integration.id,
        name=integration.name,
        kind=integration.kind,
        url=runtime.settings.resolved_base_url() + integrations.url_path(integration),
        key=integration.key,
        requires_token=integration.auth_token_hash is not None,
        created_at=integration.created_at,
    )


def counts(runtime: Runtime) -> dict[str, int]:
    """How many of each thing the admin index links to."""
    with runtime.read() as session:
        return {
            "users": users.count_users(session=session),
            "tokens": auth.count_tokens(session=session),
            "integrations": len(integrations.list_integrations(session=session)),
            "channels": len(runtime.channels),
        }


def users_data(runtime: Runtime) -> dict[str, Any]:
    with runtime.read() as session:
        rows = users.list_users(session=session)
    return {"users": rows, "roles": ROLES, "zones": time_zones()}


def list_tokens(*, session: Session) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).order_by(ApiToken.name)).all()


def tokens_data(runtime: Runtime) -> dict[str, Any]:
    with runtime.read() as session:
        rows = list_tokens(session=session)
    return {"tokens": rows, "roles": ROLES}


def integrations_data(runtime: Runtime) -> dict[str, Any]:
    with runtime.read() as session:
        rows = [
            integration_row(runtime, i) for i in integrations.list_integrations(session=session)
        ]
    return {"integrations": rows, "kinds": integrations.KINDS}


def channels_data(runtime: Runtime) -> dict[str, Any]:
    return {"channels": testing.describe(runtime.configured), "fixed": runtime.fixed_recipients()}


def change_user(*, session: Session, user_id: int, by: int, role: str, time_zone: str) -> User:
    """A new role or time zone; a role change ends the user's sessions. Nobody changes their
    own role: an admin cannot demote themselves (and so one admin always remains)."""
    row = users.find_user(session=session, ref=str(user_id))
    if row.id == by and role != row.role:
        raise Conflict(
            "role: you cannot change your own role; another admin must do it",
            details={"field": "role"},
        )
    before = row.role
    users.update_user(session=session, user=row, role=role, time_zone=time_zone.strip())
    if row.role != before:
        sessions.close_all(session=session, user_id=row.id)
    return row


def set_access(*, session: Session, user_id: int, by: int, enabled: bool, now: datetime) -> User:
    """Allow or refuse a user's sign-in; either way their sessions end. Nobody disables
    themselves."""
    row = users.find_user(session=session, ref=str(user_id))
    if row.id == by and not enabled:
        raise Conflict(
            "access: you cannot disable your own account; another admin must do it",
            details={"field": "access"},
        )
    row.disabled_at = None if enabled else (row.disabled_at or now)
    sessions.close_all(session=session, user_id=row.id)
    session.flush()
    return row


def revoke_token(*, session: Session, token_id: int, now: datetime) -> ApiToken:
    """The token stops working at once; revoking it again changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}", details={"field": "token"})
    if token.revoked_at is None:
        token.revoked_at = now
        session.flush()
    return token


def rotate(*, session: Session, integration_id: int) -> Integration:
    """A new key for the integration; its old URL stops working at once."""
    found = session.get(Integration, integration_id)
    if found is None:
        raise NotFound(f"no integration {integration_id}", details={"field": "integration"})
    rotated = integrations.rotate_key(session=session, name=found.name)
    session.flush()
    return rotated
