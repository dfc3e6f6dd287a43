"""Sign in and sign out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.alerts.ratelimit import RateLimited, RateLimiter
from warroom.auth import sessions, users
from warroom.errors import Unauthorized
from warroom.web.deps import RuntimeDep
from warroom.web.pages.common import (
    SESSION_COOKIE,
    User,
    check_csrf,
    render,
    secure_cookies,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "warroom_login"
MAX_FIELD = 1_000


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _form(request: Request, *, next_path: str, email: str = "", problem: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"next": safe_next(next_path), "email": email, "problem": problem, "csrf": token},
        status_code=401 if problem else 200,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request.app.state.runtime),
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return _form(request, next_path=next)


@router.post("/login")
async def login(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    csrf: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    next: Annotated[str, Form(max_length=MAX_FIELD)] = "/",
) -> Response:
    limiter: RateLimiter = request.app.state.sign_in_limiter
    try:  # guessing passwords: a few tries at once, then one every few seconds
        limiter.take(request.client.host if request.client else "unknown")
        limiter.take(email.strip().lower())
    except RateLimited as exc:
        wait = f"Too many attempts; try again in {exc.retry_after} s."
        response = _form(request, next_path=next, email=email, problem=wait)
        response.status_code = 429
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        return _form(request, next_path=next, email=email, problem="The form expired; try again.")

    def attempt() -> str:
        with runtime.transaction() as session:
            user = users.sign_in(session=session, email=email, password=password)
            return sessions.open_session(session=session, user=user, now=runtime.clock.now())

    try:
        secret = await run_in_threadpool(attempt)
    except Unauthorized as exc:
        return _form(request, next_path=next, email=email, problem=exc.message.capitalize() + ".")
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, runtime, secret)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request,
    user: User,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=MAX_FIELD)] = "",
) -> Response:
    check_csrf(user, csrf)
    with runtime.transaction() as session:
        sessions.close_session(session=session, secret=request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
