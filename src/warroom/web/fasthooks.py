"""The Alertmanager and Grafana hooks as plain ASGI, ahead of the framework.

These two hooks take the heaviest traffic (every alert of every Prometheus and Grafana), so
``WarroomApp`` answers them before FastAPI's middleware, routing, dependency resolution and
response classes: a request is read, parsed and validated by pydantic straight from the
bytes, handed to the intake, and answered with ready-made ASGI messages once its alerts are
committed. Every other path goes on to FastAPI unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from warroom.alerts.backlog import Submission, Webhook
from warroom.alerts.hooks import (
    accepted,
    bearer_token,
    parse,
    read_limited,
    wants_wait,
    within_limit,
)
from warroom.alerts.intake import Intake
from warroom.alerts.sources import alertmanager
from warroom.errors import WarroomError
from warroom.web.errors import error_body

logger = logging.getLogger("warroom.alerts")
KINDS = {"alertmanager", "grafana"}
PREFIX = "/hooks/"
ACCEPTED = b'{"status":"accepted","alerts":%d}'  # what hooks.accepted gives without wait


class ClientGone(Exception):
    """The client went away before its body arrived: there is nobody to answer."""


class WarroomApp(FastAPI):
    """FastAPI, with the two hottest hooks answered before its middleware stack."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _kind(scope)
        if kind is None:
            await super().__call__(scope, receive, send)
            return
        try:
            status, content, extra = await _hook(self.state.intake, scope, receive, kind)
        except ClientGone:
            return
        await _respond(send, status, content, extra)


async def _hook(
    intake: Intake, scope: Scope, receive: Receive, kind: str
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """The status, JSON body and extra headers of the answer."""
    if scope["method"] != "POST":
        refusal = error_body("method_not_allowed", "Method Not Allowed")
        return 405, _json(refusal), [(b"allow", b"POST")]
    headers = dict(scope["headers"])
    wait = _wait(scope["query_string"])
    try:
        body = await _body(receive, headers.get(b"content-length", b"").decode("latin-1"))
        payload = parse(alertmanager.WebhookCheck, body)
        key = scope["path"].rsplit("/", 1)[1]
        token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        # normalized off the loop; its checked alerts kept for the first notices
        webhook = Webhook(body=body, alerts=len(payload.alerts), checked=payload.alerts)
        submission = Submission(key=key, kind=kind, token=token, webhook=webhook, wait=wait)
        answer = await intake.submit(submission)
    except WarroomError as exc:
        extra = [(b"www-authenticate", b"Bearer")] if exc.http_status == 401 else []
        return exc.http_status, _json(error_body(exc.code, exc.message, exc.details)), extra
    except ClientGone:
        raise
    except Exception:
        logger.exception("the %s hook failed", kind)
        return 500, _json(error_body("internal", "internal error; see the server log")), []
    if not wait:  # the usual answer, without building and encoding a dict each time
        return 202, ACCEPTED % answer.alerts, []
    return 202, _json(accepted(answer, wait)), []


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


async def _body(receive: Receive, declared: str) -> bytes:
    """The body, at most 1 MiB (BodyTooLarge); ClientGone if the client goes away first. A
    body that came whole (as uvicorn hands over one that fits in a read) is taken as it is,
    without going through read_limited's chunks."""
    first = await receive()
    if first["type"] == "http.request" and not first.get("more_body", False):
        body: bytes = first.get("body", b"")
        within_limit(declared, body)
        return body
    return await read_limited(declared, _chunks(receive, first))


async def _chunks(receive: Receive, first: Message) -> AsyncIterator[bytes]:
    """The body's chunks as they come, from the first message received; ClientGone if the
    client goes away first."""
    message = first
    while True:
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        yield chunk
        if not message.get("more_body", False):
            return
        message = await receive()


def _wait(query: bytes) -> bool:
    if not query:
        return False
    values = parse_qs(query.decode("latin-1")).get("wait")
    return wants_wait(values[-1] if values else None)


async def _respond(
    send: Send, status: int, content: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


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
