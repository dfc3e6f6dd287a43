"""What every page needs: who is signed in, CSRF checks, rendering, times in the user's zone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import ValidationError

from warroom.auth import policy, sessions
from warroom.auth.sessions import SignedIn
from warroom.errors import Forbidden, InvalidInput
from warroom.runtime import Runtime
from warroom.web.deps import RuntimeDep

SESSION_COOKIE = "warroom_session"
NO_STORE = {"Cache-Control": "no-store"}


class SignInRequired(Exception):
    """A page was asked for without a live session: the handler redirects to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def sign_in_redirect(exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


async def current_user(request: Request, runtime: RuntimeDep) -> SignedIn:
    """The signed-in user, or SignInRequired."""
    secret = request.cookies.get(SESSION_COOKIE)

    def lookup() -> SignedIn | None:
        with runtime.read() as session:
            return sessions.signed_in(session=session, secret=secret, now=runtime.clock.now())

    user = await run_in_threadpool(lookup) if secret else None
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target if request.method == "GET" else "/")
    request.state.user = user
    return user


User = Annotated[SignedIn, Depends(current_user)]


def check_csrf(user: SignedIn, token: str | None) -> None:
    """Forbidden unless the form carried the session's CSRF token."""
    if not user.csrf_ok(token):
        raise Forbidden("the form's security token is missing or stale; reload the page and retry")


MAX_PAGE = 100_000


def page_number(request: Request) -> int:
    """The ``page`` of a list's query (1 when absent or not a sensible number)."""
    text = request.query_params.get("page", "1")
    return int(text) if re.fullmatch(r"[0-9]{1,5}", text) and 0 < int(text) < MAX_PAGE else 1


def first_problem(exc: ValidationError, default_field: str) -> InvalidInput:
    """The first thing a model refused, as an InvalidInput naming its field."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else default_field
    return InvalidInput(field, str(first["msg"]).removeprefix("Value error, "))


def secure_cookies(runtime: Runtime) -> bool:
    """Cookies are Secure when warroom is served over https."""
    return runtime.settings.resolved_base_url().startswith("https:")


def set_session_cookie(response: Response, runtime: Runtime, secret: str) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure when served over https."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(sessions.LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(runtime),
    )


def may(user: SignedIn, permission: policy.Permission, incident_type: str | None = None) -> bool:
    return policy.allows(user.role, permission, incident_type=incident_type)


def may_act(user: SignedIn, action: str, incident_type: str) -> bool:
    """Whether the user may take an incident action (acknowledge, close, ...)."""
    return may(user, policy.for_action(action), incident_type)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A page from templates/, with the user, the clock and the policy at hand."""
    templates: Jinja2Templates = request.app.state.templates
    runtime: Runtime = request.app.state.runtime
    user: SignedIn | None = getattr(request.state, "user", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "now": runtime.clock.now(),
            "may": may,
            "may_act": may_act,
            "playbook": runtime.playbook,
        }
        | dict(context),
        status_code=status_code,
        headers=NO_STORE,
    )


def local_time(value: datetime | None, zone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M") -> Markup:
    """A <time> in the reader's zone, with the UTC instant on hover."""
    if value is None:
        return Markup("—")
    utc = value.astimezone(UTC)
    local = utc.astimezone(ZoneInfo(zone))
    label = local.strftime(fmt) + ("" if zone == "UTC" else f" {local.tzname()}")
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S"), escape(label)
    )


def span(seconds: float) -> str:
    """A duration as people say it: 45 s, 12 min, 3 h 05 min, 2 d 4 h."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def countdown(due: datetime | None, now: datetime) -> Markup:
    """'due in 12 min' or 'overdue by 3 min', which the page's script keeps ticking."""
    if due is None:
        return Markup('<span class="muted">no deadline</span>')
    left = (due - now).total_seconds()
    text = f"due in {span(left)}" if left >= 0 else f"overdue by {span(left)}"
    css = "countdown overdue" if left < 0 else "countdown"
    return Markup('<span class="{}" data-due="{}">{}</span>').format(
        css, due.astimezone(UTC).isoformat(), text
    )


def install_filters(templates: Jinja2Templates) -> None:
    templates.env.filters["local"] = local_time
    templates.env.globals["countdown"] = countdown
    templates.env.globals["span"] = span
    templates.env.globals["entry_label"] = entry_label
    templates.env.globals["entry_text"] = entry_text


# the timeline's kinds as a sentence starts; the rest are shown with their words
_KINDS = {
    "declared": "Declared",
    "note": "Note",
    "role_assigned": "Role assigned",
    "role_unassigned": "Role left unheld",
    "task_completed": "Task done",
    "task_skipped": "Task skipped",
    "task_reopened": "Task reopened",
    "phases_replanned": "Phases re-planned",
    "updated": "Changed",
}
_SHOWN_FIELDS = ("text", "title", "role_name", "person_name", "reason", "note", "summary")


def entry_label(kind: str) -> str:
    return _KINDS.get(kind, kind.replace("_", " ").capitalize())


def entry_text(data: Mapping[str, Any]) -> str:
    """The words of a timeline entry worth reading; the full data is one click away."""
    shown = [str(data[k]) for k in _SHOWN_FIELDS if data.get(k)]
    if "changes" in data and isinstance(data["changes"], Mapping):
        shown += [f"{k}: {v}" for k, v in data["changes"].items()]
    for key in ("from", "to", "severity", "status"):
        if key in data and not isinstance(data[key], Mapping | list):
            shown.append(f"{key}: {data[key]}")
    return " · ".join(shown)
