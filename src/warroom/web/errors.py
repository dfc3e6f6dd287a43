"""Map errors to ``{"error": {"code", "message", "details"}}`` bodies; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from warroom.errors import WarroomError
from warroom.playbook.loader import format_path
from warroom.web.pages.common import NO_STORE, SignInRequired, may, sign_in_redirect

logger = logging.getLogger("warroom.web")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def refusal(exc: WarroomError) -> JSONResponse:
    """The error body and status of a refused request, for routes that answer it themselves."""
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.http_status)


# paths that always answer JSON, whatever the client accepts
MACHINE_PATHS = ("/api/", "/hooks/", "/v2/", "/slack/", "/twilio/", "/healthz", "/readyz")
HEADINGS = {
    401: "Sign in needed",
    403: "Not allowed",
    404: "Page not found",
    409: "Conflict",
    422: "Check the form",
}


def wants_page(request: Request) -> bool:
    """A browser asking for a page gets an HTML error page, everyone else the JSON body."""
    if request.url.path.startswith(MACHINE_PATHS):
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    heading = HEADINGS.get(status, "Something went wrong")
    context = {"status": status, "heading": heading, "message": message, "may": may}
    context["user"] = getattr(request.state, "user", None)
    return templates.TemplateResponse(
        request, "error.html", context, status_code=status, headers=NO_STORE
    )


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    @app.exception_handler(SignInRequired)
    async def sign_in_needed(_: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(exc)

    @app.exception_handler(WarroomError)
    async def domain_error(request: Request, exc: WarroomError) -> Response:
        if wants_page(request):
            return error_page(request, exc.http_status, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        retry_after = exc.details.get("retry_after")
        if exc.http_status == 429 and retry_after is not None:
            headers = {"Retry-After": str(retry_after)}
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details),
            status_code=exc.http_status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    @app.exception_handler(ValidationError)
    async def invalid_request(
        request: Request, exc: RequestValidationError | ValidationError
    ) -> Response:
        errors = [_field_error(e) for e in exc.errors()]
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        if wants_page(request) and isinstance(exc, RequestValidationError):
            if request.method == "GET":  # a page path that does not parse names no page
                return error_page(request, 404, "There is no such page here.")
            return error_page(request, 422, message)
        return JSONResponse(
            error_body("invalid_input", message, {"field": errors[0]["field"], "errors": errors}),
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if wants_page(request) and exc.status_code in HEADINGS:
            message = "There is no such page here." if exc.status_code == 404 else str(exc.detail)
            return error_page(request, exc.status_code, message)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error", exc_info=exc)
        return JSONResponse(
            error_body("internal", "internal error; see the server log"), status_code=500
        )


def _field_error(error: Any) -> dict[str, str]:
    loc = tuple(error.get("loc", ()))
    where = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    field = format_path(where) or (str(loc[0]) if loc else "body")
    return {"field": field, "location": str(loc[0]) if loc else "", "message": message}
