"""create_app: the FastAPI application, wired from a Runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from warroom import __version__, loopfirst
from warroom.alerts import api as alerts_api
from warroom.alerts import hooks, reports
from warroom.alerts.intake import Intake
from warroom.alerts.ratelimit import RateLimiter
from warroom.incidents.api import router as incidents_router
from warroom.oncall.api import feeds_router
from warroom.oncall.api import router as oncall_router
from warroom.paging.api import router as paging_router
from warroom.people.api import contacts_router
from warroom.people.api import router as people_router
from warroom.playbook.api import router as playbook_router
from warroom.runtime import Runtime
from warroom.web import ack, deliveries, errors, health, live, messages, slack, twilio
from warroom.web.fasthooks import WarroomApp
from warroom.web.pages import (
    account,
    actions,
    admin,
    common,
    dashboard,
    directory,
    incidents,
    room,
    signin,
)
from warroom.web.replays import SeenSignatures

logger = logging.getLogger("warroom.web")


def create_app(runtime: Runtime, *, run_worker: bool | None = None) -> FastAPI:
    """The app; with ``run_worker`` (default: the setting) the job worker runs inside it."""
    with_worker = runtime.settings.worker if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        checkpointer = runtime.checkpointer
        worker = runtime.worker() if with_worker else None
        served_first = loopfirst.go_first()  # this thread runs the event loop
        try:
            if checkpointer is not None:
                checkpointer.start()
            app.state.intake.notices.start()
            app.state.intake.wake()  # ingest what an earlier run committed but did not ingest
            if worker is not None:
                runtime.start_auditor()
                worker.start_thread()
            yield
        finally:
            try:
                await app.state.intake.notices.aclose()
            except Exception:  # what was not sent or recorded: the alerts still are
                logger.exception("closing the alert.firing notices failed")
            app.state.intake.stop()
            if worker is not None:
                worker.stop()
            if checkpointer is not None:
                checkpointer.stop()
            served_first()

    app = WarroomApp(
        title="warroom",
        version=__version__,
        lifespan=lifespan,
        description="Incident and emergency response: your runbook, running.",
    )
    app.state.runtime = runtime
    app.state.report_limiter = RateLimiter()
    app.state.sign_in_limiter = RateLimiter(burst=10, every=6.0)
    app.state.intake = Intake(runtime)
    app.state.seen_signatures = SeenSignatures()
    app.state.templates = Jinja2Templates(
        directory=str(resources.files("warroom.web") / "templates")
    )
    common.install_filters(app.state.templates)
    errors.install(app)
    for router in (  # the alert hooks first: routes are matched in order, and they are hot
        hooks.router,
        health.router,
        incidents_router,
        people_router,
        contacts_router,
        oncall_router,
        feeds_router,
        paging_router,
        deliveries.router,
        messages.router,
        playbook_router,
        alerts_api.router,
        reports.router,
        ack.router,
        slack.router,
        twilio.router,
        signin.router,
        account.router,
        dashboard.router,
        incidents.router,
        room.router,
        actions.router,
        live.router,
        directory.router,
        admin.router,
    ):
        app.include_router(router)
    static = StaticFiles(directory=str(resources.files("warroom.web") / "static"))
    app.mount("/static", static, name="static")
    return app
