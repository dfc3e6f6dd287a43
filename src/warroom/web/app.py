"""create_app: the FastAPI application, wired from a Runtime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from warroom import __version__, migrate
from warroom.incidents.api import router as incidents_router
from warroom.people.api import router as people_router
from warroom.playbook.api import router as playbook_router
from warroom.runtime import Runtime
from warroom.web import errors

logger = logging.getLogger("warroom.web")


def create_app(runtime: Runtime, *, run_worker: bool | None = None) -> FastAPI:
    """The app; with ``run_worker`` (default: the setting) the job worker runs inside it."""
    with_worker = runtime.settings.worker if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        worker = runtime.worker() if with_worker else None
        if worker is not None:
            worker.start_thread()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="warroom",
        version=__version__,
        lifespan=lifespan,
        description="Incident and emergency response: your runbook, running.",
    )
    app.state.runtime = runtime
    errors.install(app)
    for router in (incidents_router, people_router, playbook_router):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def index() -> dict[str, Any]:
        return {
            "name": "warroom",
            "version": __version__,
            "api": "/api/v1",
            "docs": "/docs",
            "openapi": "/openapi.json",
        }

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    def readyz() -> dict[str, str] | JSONResponse:
        """The database answers and its schema is current."""
        try:
            with runtime.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = migrate.is_current(runtime.engine)
        except Exception as exc:
            logger.warning("not ready: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "reason": "database unreachable"}, status_code=503
            )
        if not current:
            return JSONResponse(
                {"status": "unavailable", "reason": "schema not current"}, status_code=503
            )
        return {"status": "ready"}

    return app
