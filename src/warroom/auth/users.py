"""Users of the web app: created, checked by password (argon2), listed, changed."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.auth.models import User
from warroom.auth.policy import ROLES
from warroom.errors import Conflict, InvalidInput, NotFound, Unauthorized
from warroom.inputs import EMAIL, check_zone

MIN_PASSWORD = 12
MAX_PASSWORD = 1_000
MAX_NAME = 200
MAX_ZONE = 64  # the column's width; no zone's name is longer
# Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane) rather than the
# library's 64 MiB default: a sign-in then costs the server 19 MiB of memory for a moment,
# not 64 (peak RSS is a target: docs/performance.md). Hashes made with other parameters
# still verify; the parameters are stored in each hash.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _nobody() -> str:
    """A hash verified against when the email is unknown, so that a wrong email costs as
    long as a wrong password. Made on first use: hashing at import would slow every command."""
    return _hasher.hash(secrets.token_urlsafe(16))


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def _check_fields(*, email: str, name: str, role: str, time_zone: str) -> None:
    if not EMAIL.match(email) or len(email) > 320:
        raise InvalidInput("email", f"{email!r} is not an email address")
    if not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput("name", f"must be 1 to {MAX_NAME} characters")
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    if not time_zone.strip():
        raise InvalidInput("time_zone", "choose a time zone, such as Europe/Berlin or UTC")
    if len(time_zone) > MAX_ZONE:
        raise InvalidInput("time_zone", f"unknown time zone {time_zone[:MAX_ZONE]!r}…")
    try:
        check_zone(time_zone)
    except ValueError as exc:
        raise InvalidInput("time_zone", str(exc)) from exc


def create_user(
    *,
    session: Session,
    email: str,
    name: str,
    role: str,
    password: str,
    now: datetime,
    time_zone: str = "UTC",
) -> User:
    """A new user; the password is kept only as an argon2 hash."""
    email = email.strip().lower()
    _check_fields(email=email, name=name, role=role, time_zone=time_zone)
    check_password(password)
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"email: a user with {email} exists", details={"field": "email"})
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=_hasher.hash(password),
        time_zone=time_zone,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def sign_in(*, session: Session, email: str, password: str) -> User:
    """The enabled user with this email and password, or Unauthorized (the same for both)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _nobody(), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or user.disabled_at is not None:
        raise Unauthorized("the email or the password is wrong")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def set_password(*, session: Session, user: User, password: str) -> None:
    check_password(password)
    user.password_hash = _hasher.hash(password)
    session.flush()


def update_user(
    *, session: Session, user: User, role: str | None = None, time_zone: str | None = None
) -> User:
    """Change a user's role or time zone."""
    role = user.role if role is None else role
    time_zone = user.time_zone if time_zone is None else time_zone
    _check_fields(email=user.email, name=user.name, role=role, time_zone=time_zone)
    user.role, user.time_zone = role, time_zone
    session.flush()
    return user


def find_user(*, session: Session, ref: str) -> User:
    """A user by id or email."""
    where = User.id == int(ref) if ref.isdigit() else User.email == ref.strip().lower()
    user = session.scalar(select(User).where(where))
    if user is None:
        raise NotFound(f"no user {ref!r}", details={"field": "user"})
    return user


def list_users(*, session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.email)).all()


def count_users(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def generated_password() -> str:
    return secrets.token_urlsafe(15)
