"""The alerts API: integrations, alerts and silences under /api/v1."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from warroom.alerts import integrations, journal, queries, silences
from warroom.alerts.models import Integration
from warroom.alerts.schemas import (
    AlertFilter,
    AlertPage,
    AlertRead,
    IntakeRead,
    IntegrationCreate,
    IntegrationRead,
    SilenceCreate,
    SilenceRead,
)
from warroom.runtime import Runtime
from warroom.web.deps import Admin, IdPath, Responder, RuntimeDep, Viewer

router = APIRouter(prefix="/api/v1", tags=["alerts"])


def integration_read(runtime: Runtime, integration: Integration) -> IntegrationRead:
    return integrations.as_read(integration, runtime.settings.resolved_base_url())


@router.post("/integrations", status_code=status.HTTP_201_CREATED, response_model=IntegrationRead)
def create_integration(
    body: IntegrationCreate, caller: Admin, runtime: RuntimeDep
) -> IntegrationRead:
    """Create an integration; its URL carries a secret key."""
    with runtime.transaction() as session:
        integration = integrations.create(
            session=session,
            name=body.name,
            kind=body.kind,
            auth_token=body.auth_token,
            now=runtime.clock.now(),
        )
        return integration_read(runtime, integration)


@router.get("/integrations", response_model=list[IntegrationRead])
def list_integrations(caller: Admin, runtime: RuntimeDep) -> list[IntegrationRead]:
    """Every integration with its URL (admins only: the URLs hold secrets)."""
    with runtime.read() as session:
        return [
            integration_read(runtime, i) for i in integrations.list_integrations(session=session)
        ]


@router.post("/integrations/{name}/rotate-key", response_model=IntegrationRead)
def rotate_key(name: str, caller: Admin, runtime: RuntimeDep) -> IntegrationRead:
    """Give the integration a new key; the old URL stops working at once."""
    with runtime.transaction() as session:
        return integration_read(runtime, integrations.rotate_key(session=session, name=name))


@router.get("/alerts", response_model=AlertPage)
def list_alerts(
    caller: Viewer, runtime: RuntimeDep, filters: Annotated[AlertFilter, Query()]
) -> AlertPage:
    """Alerts, newest first, by status, integration, incident, silenced and text."""
    with runtime.read() as session:
        rows, total = queries.list_alerts(session=session, filters=filters)
        items = [AlertRead.model_validate(r) for r in rows]
    return AlertPage(items=items, total=total, limit=filters.limit, offset=filters.offset)


@router.get("/alerts/intake", response_model=IntakeRead)
def intake_state(caller: Viewer, runtime: RuntimeDep) -> IntakeRead:
    """Hook requests answered and committed but not yet ingested (normally none for more than
    a moment), and any set aside because ingesting them failed."""
    with runtime.read() as session:
        state = journal.state(session=session, url=runtime.settings.resolved_database_url())
    return IntakeRead(
        pending=state.pending,
        pending_alerts=state.pending_alerts,
        failed=state.failed,
        oldest_received_at=state.oldest,
    )


@router.post("/silences", status_code=status.HTTP_201_CREATED, response_model=SilenceRead)
def create_silence(
    body: SilenceCreate, caller: Responder, runtime: RuntimeDep, request: Request
) -> SilenceRead:
    """Silence matching alerts for a window (a maintenance window): recorded, not paged."""
    with runtime.transaction() as session:
        silence = silences.create_from(
            session=session, request=body, actor=caller.actor, now=runtime.clock.now()
        )
        made = SilenceRead.model_validate(silence)
    _silences_changed(request)
    return made


@router.get("/silences", response_model=list[SilenceRead])
def list_silences(
    caller: Viewer, runtime: RuntimeDep, include_expired: bool = False
) -> list[SilenceRead]:
    """Active and future silences (and expired ones when asked)."""
    with runtime.read() as session:
        rows = silences.list_silences(
            session=session, now=runtime.clock.now(), include_expired=include_expired
        )
        return [SilenceRead.model_validate(s) for s in rows]


@router.delete("/silences/{silence_id}", response_model=SilenceRead)
def expire_silence(
    silence_id: IdPath, caller: Responder, runtime: RuntimeDep, request: Request
) -> SilenceRead:
    """End a silence now."""
    with runtime.transaction() as session:
        silence = silences.expire(session=session, silence_id=silence_id, now=runtime.clock.now())
        ended = SilenceRead.model_validate(silence)
    _silences_changed(request)
    return ended


def _silences_changed(request: Request) -> None:
    """The first notices of this process look at the silences again before the next."""
    request.app.state.intake.notices.forget_silences()
