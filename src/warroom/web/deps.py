"""Request dependencies: the runtime and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from warroom.auth import policy
from warroom.auth import service as auth
from warroom.db import MAX_ID
from warroom.runtime import Runtime

LAST_USED_GRANULARITY = timedelta(minutes=1)
bearer = HTTPBearer(auto_error=False, description="A token from `warroom token create`.")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A numeric id.")]


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token's name is the actor on the timeline."""

    token_id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


def require(permission: policy.Permission) -> Callable[..., Caller]:
    """A dependency that authenticates the bearer token and checks its role's permission."""

    def dependency(
        runtime: RuntimeDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        secret = credentials.credentials if credentials else None
        with runtime.read() as session:
            token = auth.authenticate(session=session, secret=secret)
        policy.check(token.role, permission)
        now = runtime.clock.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
            with runtime.transaction() as session:
                auth.mark_used(session=session, token_id=token.id, now=now)
        return Caller(token_id=token.id, name=token.name, role=token.role)

    return dependency


Viewer = Annotated[Caller, Depends(require("read"))]
Responder = Annotated[Caller, Depends(require("respond"))]
Admin = Annotated[Caller, Depends(require("administer"))]
