"""The Alertmanager and Grafana hooks as plain ASGI, in front of the framework.

These two hooks take the heaviest traffic (every alert of every Prometheus and Grafana), so
they skip FastAPI's routing, dependency resolution and response classes: a request is read,
parsed and validated by pydantic straight from the bytes, handed to the intake, and answered
once its alerts are committed. Every other path goes on to the app unchanged.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from warroom.alerts.backlog import Submission
from warroom.alerts.hooks import accepted, bearer, parse, read_body, wants_wait
from warroom.alerts.intake import Intake
from warroom.alerts.sources import alertmanager
from warroom.errors import WarroomError
from warroom.web.errors import error_body, refusal

logger = logging.getLogger("warroom.alerts")
KINDS = {"alertmanager", "grafana"}
PREFIX = "/hooks/"


class HookFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _kind(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        response = await _hook(Request(scope, receive), kind)
        if response is not None:
            await response(scope, receive, send)


async def _hook(request: Request, kind: str) -> Response | None:
    """The answer to a request to the hook (None: the client went away)."""
    if request.method != "POST":
        body = error_body("method_not_allowed", "Method Not Allowed")
        return JSONResponse(body, status_code=405, headers={"Allow": "POST"})
    intake: Intake = request.app.state.intake
    wait = wants_wait(request.query_params.get("wait"))
    try:
        payload = parse(alertmanager.WebhookPayload, await read_body(request))
        submission = Submission(
            key=request.scope["path"].rsplit("/", 1)[1],
            kind=kind,
            token=bearer(request),
            alerts=alertmanager.normalize(payload, source=kind),
            wait=wait,
        )
        answer = await intake.submit(submission)
    except ClientDisconnect:
        return None
    except WarroomError as exc:
        response = refusal(exc)
        if exc.http_status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    except Exception:
        logger.exception("the %s hook failed", kind)
        body = error_body("internal", "internal error; see the server log")
        return JSONResponse(body, status_code=500)
    return JSONResponse(accepted(answer, wait), status_code=202)


def _kind(scope: Scope) -> str | None:
    """The kind of hook a request is to (``/hooks/{kind}/{key}``); None for anything else."""
    if scope["type"] != "http":
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX):
        return None
    kind, slash, key = path[len(PREFIX) :].partition("/")
    if kind not in KINDS or not slash or not key or "/" in key:
        return None
    return kind
