"""Customer reports: a public endpoint and form that open a triage alert, rate-limited."""

from __future__ import annotations

import secrets
import uuid
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from warroom.alerts import service
from warroom.alerts.hooks import read_body, read_json
from warroom.alerts.models import Integration
from warroom.alerts.normalize import NormalizedAlert
from warroom.alerts.ratelimit import RateLimited
from warroom.alerts.schemas import ReportCreate
from warroom.runtime import Runtime

REPORTS_INTEGRATION = "customer-reports"
router = APIRouter(tags=["customer reports"])


def _integration(session: Session, runtime: Runtime) -> Integration:
    """The built-in integration reports come through, created on first use (racing
    first reports create it once: the insert does nothing if it exists)."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    session.execute(
        insert(Integration)
        .values(
            name=REPORTS_INTEGRATION,
            kind="generic",
            key=secrets.token_urlsafe(24),
            created_at=runtime.clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.scalars(
        select(Integration).where(Integration.name == REPORTS_INTEGRATION).with_for_update()
    ).one()


def file_report(runtime: Runtime, report: ReportCreate) -> str:
    """Store the report as a triage alert; returns its reference."""
    reference = uuid.uuid4().hex[:12]
    alert = NormalizedAlert(
        fingerprint=f"report-{reference}",
        status="firing",
        source="customer-report",
        summary=f"Customer report: {report.description[:120]}",
        labels={"alertname": "CustomerReport", "severity": "warning"},
        details={
            "name": report.name,
            "contact": report.contact,
            "description": report.description,
            "reference": reference,
        },
    )
    with runtime.transaction() as session:
        integration = _integration(session, runtime)
        service.ingest(
            session=session,
            playbook=runtime.playbook,
            integration=integration,
            alerts=[alert],
            clock=runtime.clock,
        )
    return reference


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/api/v1/reports", status_code=202)
async def report(request: Request) -> JSONResponse:
    """A customer report (public, rate-limited per client): it opens a triage alert."""
    request.app.state.report_limiter.take(_client(request))
    data = ReportCreate.model_validate(await read_json(request))  # 422 naming the field
    reference = await run_in_threadpool(file_report, request.app.state.runtime, data)
    return JSONResponse({"status": "received", "reference": reference}, status_code=202)


def _templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


@router.get("/report", response_class=HTMLResponse, include_in_schema=False)
def report_form(request: Request) -> HTMLResponse:
    return _templates(request).TemplateResponse(
        request, "report.html", {"values": {}, "errors": {}}
    )


@router.post("/report", response_class=HTMLResponse, include_in_schema=False)
async def report_submit(request: Request) -> HTMLResponse:
    try:
        request.app.state.report_limiter.take(_client(request))
    except RateLimited as exc:
        return _templates(request).TemplateResponse(
            request,
            "report.html",
            {"values": {}, "errors": {"form": exc.message}},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    body = await read_body(request)
    values = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    try:
        data = ReportCreate.model_validate(
            {k: values.get(k, "") for k in ("name", "contact", "description")}
        )
    except ValidationError as exc:
        errors = {str(e["loc"][0]): str(e["msg"]) for e in exc.errors()}
        return _templates(request).TemplateResponse(
            request, "report.html", {"values": values, "errors": errors}, status_code=400
        )
    reference = await run_in_threadpool(file_report, request.app.state.runtime, data)
    return _templates(request).TemplateResponse(
        request,
        "report.html",
        {"values": {}, "errors": {}, "reference": reference},
        status_code=202,
    )
