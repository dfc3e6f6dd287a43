"""Your account: the time zone pages show times in, and your password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.auth import sessions, users
from warroom.errors import InvalidInput, Unauthorized
from warroom.web.deps import RuntimeDep
from warroom.web.pages.common import User, check_csrf, render, set_session_cookie

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form(max_length=1_000)]


def _page(
    request: Request, *, form: str = "", problem: str = "", zone: str = "", status: int = 200
) -> HTMLResponse:
    context = {"form": form, "problem": problem, "zone": zone, "saved": request.query_params}
    return render(request, "account.html", context, status_code=status)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, user: User) -> HTMLResponse:
    return _page(request)


@router.post("/account/time-zone")
def set_time_zone(
    request: Request, user: User, runtime: RuntimeDep, time_zone: Field = "", csrf: Field = ""
) -> Response:
    check_csrf(user, csrf)
    try:
        with runtime.transaction() as session:
            row = users.find_user(session=session, ref=str(user.user_id))
            users.update_user(session=session, user=row, time_zone=time_zone.strip())
    except InvalidInput as exc:
        return _page(request, form="zone", problem=exc.message, zone=time_zone, status=422)
    return RedirectResponse("/account?saved=time-zone", status_code=303)


@router.post("/account/password")
def set_password(
    request: Request,
    user: User,
    runtime: RuntimeDep,
    current: Field = "",
    new: Field = "",
    csrf: Field = "",
) -> Response:
    """A new password, given the current one; every other session of yours ends."""
    check_csrf(user, csrf)
    try:
        with runtime.transaction() as session:
            row = users.sign_in(session=session, email=user.email, password=current)
            users.set_password(session=session, user=row, password=new)
            sessions.close_all(session=session, user_id=row.id)
            secret = sessions.open_session(session=session, user=row, now=runtime.clock.now())
    except Unauthorized:
        return _page(
            request, form="password", problem="current: that is not your password", status=422
        )
    except InvalidInput as exc:
        return _page(request, form="password", problem=f"new {exc.message}", status=422)
    response = RedirectResponse("/account?saved=password", status_code=303)
    set_session_cookie(response, runtime, secret)
    return response
