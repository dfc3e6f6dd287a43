"""Admin pages: users, API tokens, integrations and channels. Every request needs the
``administer`` permission; every form its CSRF token. A refused form shows its page again
with the input kept and the problem named, and writes nothing. Secrets (a generated
password, a new token) are shown once, on the answer to the form that made them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.alerts import integrations
from warroom.auth import policy, users
from warroom.auth import service as auth
from warroom.auth.sessions import SignedIn
from warroom.db import MAX_ID
from warroom.errors import Conflict, InvalidInput, NotFound, WarroomError
from warroom.notify import testing
from warroom.runtime import Runtime
from warroom.web.deps import IdPath, RuntimeDep
from warroom.web.pages import admin_views as views
from warroom.web.pages.common import User, check_csrf, render

router = APIRouter(include_in_schema=False)
# generous: the services' own limits are lower, so a long value gets the page, not JSON
Field = Annotated[str, Form(max_length=2_000)]
Section = tuple[str, Callable[[Runtime], dict[str, Any]]]
SECTIONS: dict[str, Section] = {
    "users": ("admin_users.html", views.users_data),
    "tokens": ("admin_tokens.html", views.tokens_data),
    "integrations": ("admin_integrations.html", views.integrations_data),
    "channels": ("admin_channels.html", views.channels_data),
}


def _admin_form(user: SignedIn, csrf: str) -> None:
    """Forbidden unless the form carried its CSRF token and the user is an admin."""
    check_csrf(user, csrf)
    policy.check(user.role, "administer")


def _shown_id(request: Request, name: str) -> int | None:
    """An id from the query string (?saved=3), or None for anything else."""
    text = request.query_params.get(name, "")
    return int(text) if re.fullmatch(r"[0-9]{1,12}", text) and 0 < int(text) <= MAX_ID else None


def _page(
    request: Request, runtime: Runtime, section: str, *, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    template, load = SECTIONS[section]
    context = {"nav": "admin", "form": "", "problem": "", "field": "", "values": {}}
    return render(request, template, context | load(runtime) | extra, status_code=status_code)


def _refused(
    request: Request,
    runtime: Runtime,
    section: str,
    exc: WarroomError,
    *,
    form: str,
    values: dict[str, str],
) -> HTMLResponse:
    """The section again, the form's input kept and its problem named (422, 409)."""
    return _page(
        request,
        runtime,
        section,
        status_code=exc.http_status,
        form=form,
        problem=exc.message,
        field=str(exc.details.get("field", "")),
        values=values,
    )


def _shown_once(request: Request, *, heading: str, label: str, secret: str, back: str) -> Response:
    context = {"nav": "admin", "heading": heading, "label": label, "secret": secret, "back": back}
    return render(request, "admin_secret.html", context, status_code=201)


@router.get("/admin", response_class=HTMLResponse)
def index(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    policy.check(user.role, "administer")
    return render(request, "admin.html", {"nav": "admin", "counts": views.counts(runtime)})


# users


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    policy.check(user.role, "administer")
    return _page(request, runtime, "users", saved=_shown_id(request, "saved"))


@router.post("/admin/users")
def create_user(
    request: Request,
    user: User,
    runtime: RuntimeDep,
    email: Field = "",
    name: Field = "",
    role: Field = "",
    time_zone: Field = "",
    password: Field = "",
    csrf: Field = "",
) -> Response:
    """Add a user; without a password one is generated and shown once."""
    _admin_form(user, csrf)
    values = {"email": email, "name": name, "role": role, "time_zone": time_zone}
    secret = password or users.generated_password()
    try:
        with runtime.transaction() as session:
            created = users.create_user(
                session=session,
                email=email,
                name=name,
                role=role,
                password=secret,
                time_zone=time_zone.strip(),
                now=runtime.clock.now(),
            )
    except (InvalidInput, Conflict) as exc:
        return _refused(request, runtime, "users", exc, form="create", values=values)
    if password:
        return RedirectResponse(f"/admin/users?saved={created.id}", status_code=303)
    return _shown_once(
        request,
        heading=f"User {created.email} added",
        label="Their password",
        secret=secret,
        back="/admin/users",
    )


@router.post("/admin/users/{user_id}")
def change_user(
    request: Request,
    user_id: IdPath,
    user: User,
    runtime: RuntimeDep,
    role: Field = "",
    time_zone: Field = "",
    csrf: Field = "",
) -> Response:
    """A new role (which signs the user out) or time zone."""
    _admin_form(user, csrf)
    try:
        with runtime.transaction() as session:
            views.change_user(
                session=session, user_id=user_id, by=user.user_id, role=role, time_zone=time_zone
            )
    except (InvalidInput, Conflict) as exc:
        values = {"role": role, "time_zone": time_zone}
        return _refused(request, runtime, "users", exc, form=f"user-{user_id}", values=values)
    return RedirectResponse(f"/admin/users?saved={user_id}", status_code=303)


@router.post("/admin/users/{user_id}/access")
def set_access(
    request: Request,
    user_id: IdPath,
    user: User,
    runtime: RuntimeDep,
    action: Field = "",
    csrf: Field = "",
) -> Response:
    """Disable or enable a user; their sessions end either way."""
    _admin_form(user, csrf)
    try:
        if action not in ("disable", "enable"):
            raise InvalidInput("access", "choose disable or enable")
        with runtime.transaction() as session:
            views.set_access(
                session=session,
                user_id=user_id,
                by=user.user_id,
                enabled=action == "enable",
                now=runtime.clock.now(),
            )
    except (InvalidInput, Conflict) as exc:
        form = f"access-{user_id}"
        return _refused(request, runtime, "users", exc, form=form, values={"action": action})
    return RedirectResponse(f"/admin/users?saved={user_id}", status_code=303)


# API tokens


@router.get("/admin/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    policy.check(user.role, "administer")
    return _page(request, runtime, "tokens", revoked=_shown_id(request, "revoked"))


@router.post("/admin/tokens")
def create_token(
    request: Request,
    user: User,
    runtime: RuntimeDep,
    name: Field = "",
    role: Field = "",
    csrf: Field = "",
) -> Response:
    """A new token, its secret shown once (only its hash is kept)."""
    _admin_form(user, csrf)
    try:
        with runtime.transaction() as session:
            token, secret = auth.create_token(
                session=session, name=name, role=role, now=runtime.clock.now()
            )
    except (InvalidInput, Conflict) as exc:
        values = {"name": name, "role": role}
        return _refused(request, runtime, "tokens", exc, form="create", values=values)
    return _shown_once(
        request,
        heading=f"API token {token.name} ({token.role}) created",
        label="The token",
        secret=secret,
        back="/admin/tokens",
    )


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    token_id: IdPath, user: User, runtime: RuntimeDep, csrf: Field = ""
) -> RedirectResponse:
    """The token stops working at once."""
    _admin_form(user, csrf)
    with runtime.transaction() as session:
        views.revoke_token(session=session, token_id=token_id, now=runtime.clock.now())
    return RedirectResponse(f"/admin/tokens?revoked={token_id}", status_code=303)


# integrations


@router.get("/admin/integrations", response_class=HTMLResponse)
def integrations_page(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    policy.check(user.role, "administer")
    created, rotated = _shown_id(request, "created"), _shown_id(request, "rotated")
    return _page(request, runtime, "integrations", created=created, rotated=rotated)


@router.post("/admin/integrations")
def create_integration(
    request: Request,
    user: User,
    runtime: RuntimeDep,
    name: Field = "",
    kind: Field = "",
    csrf: Field = "",
) -> Response:
    """A new integration; its URL (with its secret key) is shown on the list."""
    _admin_form(user, csrf)
    try:
        with runtime.transaction() as session:
            created = integrations.create(
                session=session, name=name, kind=kind, auth_token=None, now=runtime.clock.now()
            )
    except (InvalidInput, Conflict) as exc:
        values = {"name": name, "kind": kind}
        return _refused(request, runtime, "integrations", exc, form="create", values=values)
    return RedirectResponse(f"/admin/integrations?created={created.id}", status_code=303)


@router.post("/admin/integrations/{integration_id}/rotate")
def rotate_key(
    integration_id: IdPath, user: User, runtime: RuntimeDep, csrf: Field = ""
) -> RedirectResponse:
    """A new key: the old URL stops working at once; the page shows the new one."""
    _admin_form(user, csrf)
    with runtime.transaction() as session:
        views.rotate(session=session, integration_id=integration_id)
    return RedirectResponse(f"/admin/integrations?rotated={integration_id}", status_code=303)


# channels


@router.get("/admin/channels", response_class=HTMLResponse)
def channels_page(request: Request, user: User, runtime: RuntimeDep) -> HTMLResponse:
    policy.check(user.role, "administer")
    return _page(request, runtime, "channels")


@router.post("/admin/channels/test")
def send_test(
    request: Request,
    user: User,
    runtime: RuntimeDep,
    name: Field = "",
    to: Field = "",
    csrf: Field = "",
) -> Response:
    """Send a real test message through one channel and show what the provider answered."""
    _admin_form(user, csrf)
    try:
        receipt = testing.send_test(
            channels=runtime.channels,
            fixed=runtime.fixed_recipients(),
            name=name,
            to=to,
            now=runtime.clock.now(),
        )
    except NotFound:
        raise
    except InvalidInput as exc:
        values = {"to": to}
        return _refused(request, runtime, "channels", exc, form=f"test-{name}", values=values)
    except Exception as exc:  # any failure of the provider is the answer we show
        result = {"name": name, "ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    else:
        result = {"name": name, "ok": True, "detail": receipt.detail}
    form = f"test-{name}"
    return _page(request, runtime, "channels", result=result, form=form, values={"to": to})
