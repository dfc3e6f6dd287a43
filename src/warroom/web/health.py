"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from warroom import migrate
from warroom.web.deps import RuntimeDep

logger = logging.getLogger("warroom.web")
router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(runtime: RuntimeDep) -> dict[str, str] | JSONResponse:
    """The database answers and its schema is current."""
    try:
        with runtime.read() as session:
            session.execute(text("SELECT 1"))
        current = migrate.is_current(runtime.engine)
    except SQLAlchemyError as exc:
        logger.warning("not ready: %s", exc)
        return JSONResponse(
            {"status": "unavailable", "reason": "database unreachable"}, status_code=503
        )
    if not current:
        return JSONResponse(
            {"status": "unavailable", "reason": "schema not current"}, status_code=503
        )
    return {"status": "ready"}
