"""The Alertmanager and Grafana hooks as plain ASGI, in front of the framework.

These two hooks take the heaviest traffic (every alert of every Prometheus and Grafana), so
they skip FastAPI's routing, dependency resolution and response classes: a request is read,
parsed and validated by pydantic straight from the bytes, handed to the intake, and answered
once its alerts are committed. Every other path goes on to the app unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warroom.alerts.backlog import Submission
from warroom.alerts.hooks import MAX_BODY, BodyTooLarge, accepted, parse, wants_wait
from warroom.alerts.intake import Intake
from warroom.alerts.sources import alertmanager
from warroom.errors import WarroomError
from warroom.web.errors import error_body

logger = logging.getLogger("warroom.alerts")
KINDS = {b"alertmanager": "alertmanager", b"grafana": "grafana"}
PREFIX = "/hooks/"
JSON_HEADERS = [(b"content-type", b"application/json")]


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


class HookFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = _target(scope)
        if target is None:
            await self.app(scope, receive, send)
            return
        kind, key = target
        if scope["method"] != "POST":
            refusal = error_body("method_not_allowed", "Method Not Allowed")
            await _respond(send, 405, refusal, [(b"allow", b"POST")])
            return
        intake: Intake = scope["app"].state.intake
        try:
            body = await _read_body(scope, receive)
            payload = parse(alertmanager.WebhookPayload, body)
            wait = _waits(scope)
            submission = Submission(
                key=key,
                kind=kind,
                token=_bearer(scope),
                alerts=alertmanager.normalize(payload, source=kind),
                wait=wait,
            )
            answer = await intake.submit(submission)
        except ClientGone:
            return
        except WarroomError as exc:
            headers = [(b"www-authenticate", b"Bearer")] if exc.http_status == 401 else []
            await _respond(
                send, exc.http_status, error_body(exc.code, exc.message, exc.details), headers
            )
            return
        except Exception:
            logger.exception("the %s hook failed", kind)
            await _respond(send, 500, error_body("internal", "internal error; see the server log"))
            return
        await _respond(send, 202, accepted(answer, wait))


def _target(scope: Scope) -> tuple[str, str] | None:
    """(kind, key) of a request to one of these hooks; None for anything else."""
    if scope["type"] != "http":
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX):
        return None
    kind, slash, key = path[len(PREFIX) :].partition("/")
    known = KINDS.get(kind.encode())
    if known is None or not slash or not key or "/" in key:
        return None
    return known, key


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
            raise BodyTooLarge(f"the body is over {MAX_BODY} bytes")
    body = b""
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > MAX_BODY:
            raise BodyTooLarge(f"the body is over {MAX_BODY} bytes")
        if not message.get("more_body", False):
            return body


def _waits(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    if not query:
        return False
    values = parse_qs(query.decode("latin-1")).get("wait")
    return wants_wait(values[-1] if values else None)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


async def _respond(
    send: Send, status: int, content: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(content, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*JSON_HEADERS, (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
