"""Create, find and rotate integrations."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from warroom import lean
from warroom.alerts.models import Integration
from warroom.alerts.schemas import IntegrationRead
from warroom.db import table_of
from warroom.errors import Conflict, InvalidInput, NotFound, Unauthorized

KINDS = ("alertmanager", "grafana", "events-v2", "generic")
HOOK_PATHS = {
    "alertmanager": "/hooks/alertmanager/{key}",
    "grafana": "/hooks/grafana/{key}",
    "generic": "/hooks/generic/{key}",
    "events-v2": "/v2/enqueue",
}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def url_path(integration: Integration) -> str:
    """Where the integration's source posts (events-v2 sends the key as routing_key)."""
    return HOOK_PATHS[integration.kind].format(key=integration.key)


def create(
    *, session: Session, name: str, kind: str, auth_token: str | None, now: datetime
) -> Integration:
    """A new integration with a fresh secret key."""
    if kind not in KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(KINDS)}")
    if not name.strip() or len(name) > 100:
        raise InvalidInput("name", "must be 1 to 100 characters")
    if auth_token is not None and len(auth_token) < 16:
        raise InvalidInput("auth_token", "must be at least 16 characters")
    if session.scalar(select(Integration).where(Integration.name == name)):
        raise Conflict(f"name: an integration named {name!r} exists", details={"field": "name"})
    integration = Integration(
        name=name,
        kind=kind,
        key=secrets.token_urlsafe(24),
        auth_token_hash=_digest(auth_token) if auth_token else None,
        created_at=now,
    )
    session.add(integration)
    session.flush()
    return integration


def list_integrations(*, session: Session) -> Sequence[Integration]:
    return session.scalars(select(Integration).order_by(Integration.name)).all()


def find(*, session: Session, ref: str) -> Integration:
    """An integration by name."""
    integration = session.scalar(select(Integration).where(Integration.name == ref))
    if integration is None:
        raise NotFound(f"no integration named {ref!r}", details={"field": "integration"})
    return integration


class KeyHolder(NamedTuple):
    """What checking a hook request needs of its integration."""

    id: int
    kind: str
    auth_token_hash: str | None


INTEGRATIONS = table_of(Integration)
# session.info: a key changed; once committed, whatever keeps keys must read them again
KEYS_CHANGED = "warroom_integration_keys_changed"
# Built once: building a statement costs more than running it on SQLite.
HOLDERS = select(
    INTEGRATIONS.c.key, INTEGRATIONS.c.id, INTEGRATIONS.c.kind, INTEGRATIONS.c.auth_token_hash
).where(INTEGRATIONS.c.key.in_(bindparam("keys", expanding=True)))
BY_IDS = (
    select(INTEGRATIONS.c.id, INTEGRATIONS.c.name, INTEGRATIONS.c.kind)
    .where(INTEGRATIONS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(INTEGRATIONS.c.id)
)
BY_IDS_LOCKED = BY_IDS.with_for_update()
BY_IDS_LISTED = (  # SQLite, which locks the whole database instead: the ids as one parameter
    select(INTEGRATIONS.c.id, INTEGRATIONS.c.name, INTEGRATIONS.c.kind)
    .where(INTEGRATIONS.c.id.in_(lean.each("ids")))
    .order_by(INTEGRATIONS.c.id)
)


class Source(NamedTuple):
    """What ingesting needs of an integration (read with Core: every batch reads it)."""

    id: int
    name: str
    kind: str


def by_keys(*, session: Session, keys: set[str]) -> dict[str, KeyHolder]:
    """The integrations these hook keys belong to (one Core query: requests are hot)."""
    rows = session.execute(HOLDERS, {"keys": sorted(keys)})
    return {key: KeyHolder(id_, kind, token_hash) for key, id_, kind, token_hash in rows}


def by_ids(*, session: Session, ids: set[int], lock: bool = False) -> dict[int, Source]:
    """The integrations with these ids, locked in id order when ``lock``."""
    if lean.sqlite(session):
        found = lean.rows(session, BY_IDS_LISTED, {"ids": lean.listed(sorted(ids))})
    else:
        found = session.execute(BY_IDS_LOCKED if lock else BY_IDS, {"ids": sorted(ids)}).all()
    return {id_: Source(id_, name, kind) for id_, name, kind in found}


def check(found: dict[str, KeyHolder], key: str, kind: str) -> KeyHolder:
    """The integration of ``key`` if it is of the hook's kind; NotFound otherwise."""
    integration = found.get(key)
    if integration is None or integration.kind != kind:
        raise NotFound("unknown integration key", details={"field": "key"})
    return integration


def admit(found: dict[str, KeyHolder], key: str, kind: str, bearer: str | None) -> KeyHolder:
    """The integration a hook request is for, once its key, kind and token check out."""
    integration = check(found, key, kind)
    check_auth(integration, bearer)
    return integration


def check_auth(integration: KeyHolder, bearer: str | None) -> None:
    """Unauthorized unless the integration needs no token or the right one was sent."""
    if integration.auth_token_hash is None:
        return
    if bearer is None or not hmac.compare_digest(_digest(bearer), integration.auth_token_hash):
        raise Unauthorized("this integration requires its bearer token")


def rotate_key(*, session: Session, name: str) -> Integration:
    """A new secret key; the old URL stops working at once (``KEYS_CHANGED``)."""
    integration = find(session=session, ref=name)
    integration.key = secrets.token_urlsafe(24)
    session.info[KEYS_CHANGED] = True
    return integration


def as_read(integration: Integration, base_url: str) -> IntegrationRead:
    """The integration as the API and the CLI show it, with its URL under ``base_url``."""
    return IntegrationRead(
        id=integration.id,
        name=integration.name,
        kind=integration.kind,
        key=integration.key,
        url=base_url + url_path(integration),
        requires_token=integration.auth_token_hash is not None,
        created_at=integration.created_at,
    )
