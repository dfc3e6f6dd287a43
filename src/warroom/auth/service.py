"""Create and check API tokens; what each role may do is decided in ``policy``."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from warroom.auth.models import ApiToken
from warroom.auth.policy import ROLES
from warroom.errors import Conflict, InvalidInput, Unauthorized

MAX_NAME = 100
TOKEN_PREFIX = "wr_"  # noqa: S105 - a prefix, not a secret


def hash_token(token: str) -> str:
    """SHA-256 of a token; tokens are 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(*, session: Session, name: str, role: str, now: datetime) -> tuple[ApiToken, str]:
    """A new token; the secret is returned once and only its hash is kept."""
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput("name", f"must be 1 to {MAX_NAME} characters")
    if session.scalar(select(ApiToken).where(ApiToken.name == name)):
        raise Conflict(f"name: a token named {name!r} exists", details={"field": "name"})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, role=role, token_hash=hash_token(secret), created_at=now)
    session.add(token)
    session.flush()
    return token, secret


def count_tokens(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApiToken)) or 0


def authenticate(*, session: Session, secret: str | None) -> ApiToken:
    """The live token for a secret, or Unauthorized."""
    if not secret:
        raise Unauthorized("a bearer token is required (Authorization: Bearer wr_...)")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("the bearer token is not valid")
    return token


def mark_used(*, session: Session, token_id: int, now: datetime) -> None:
    """Record when a token was last used."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
