"""Browser sessions: a random secret in a cookie, its hash and a CSRF token in a row."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from warroom.auth.models import User, WebSession
from warroom.auth.service import hash_token

LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class SignedIn:
    """The user behind a live session, as pages need them."""

    user_id: int
    email: str
    name: str
    role: str
    time_zone: str
    csrf_token: str

    @property
    def actor(self) -> str:
        return f"user:{self.email}"

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token.encode(), (token or "").encode())


def open_session(*, session: Session, user: User, now: datetime) -> str:
    """Start a session for ``user``; returns the cookie's secret (only its hash is kept)."""
    secret = secrets.token_urlsafe(32)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.add(
        WebSession(
            token_hash=hash_token(secret),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    session.flush()
    return secret


def signed_in(*, session: Session, secret: str | None, now: datetime) -> SignedIn | None:
    """Who holds this cookie secret, if the session is live and the user enabled."""
    if not secret:
        return None
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == hash_token(secret))
    ).first()
    if row is None:
        return None
    web, user = row
    if web.expires_at <= now or user.disabled_at is not None:
        return None
    return SignedIn(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        time_zone=user.time_zone,
        csrf_token=web.csrf_token,
    )


def close_session(*, session: Session, secret: str | None) -> None:
    """Sign out: the session row goes, so the cookie is worthless even if kept."""
    if secret:
        session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(secret)))


def close_all(*, session: Session, user_id: int) -> None:
    """End every session of a user (after a password or role change)."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
