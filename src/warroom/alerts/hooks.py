"""Inbound alert webhooks: generic JSON and PagerDuty Events v2, and what every hook shares
(Alertmanager's and Grafana's are plain ASGI: ``warroom.web.fasthooks``).

A 2xx answer is sent only after the alerts are committed. Bad input stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from warroom.alerts.backlog import Submission
from warroom.alerts.intake import Accepted, Intake
from warroom.alerts.sources import events_v2, generic
from warroom.errors import NotFound, WarroomError
from warroom.playbook.loader import format_path
from warroom.web.errors import error_body

M = TypeVar("M", bound=BaseModel)
router = APIRouter(tags=["alert hooks"])
MAX_BODY = 1024 * 1024


class BodyTooLarge(WarroomError):
    code = "payload_too_large"
    http_status = 413


class InvalidPayload(WarroomError):
    code = "invalid_payload"
    http_status = 400


async def read_body(request: Request) -> bytes:
    """The raw body, at most 1 MiB; BodyTooLarge otherwise."""
    return await read_limited(request.headers.get("content-length", ""), request.stream())


async def read_limited(declared: str, chunks: AsyncIterator[bytes]) -> bytes:
    """The body from its chunks, at most 1 MiB (by its declared length, then by what came);
    BodyTooLarge otherwise."""
    within_limit(declared, b"")
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        within_limit("", body)
    return bytes(body)


def within_limit(declared: str, body: bytes | bytearray) -> None:
    """BodyTooLarge when the declared length (Content-Length) or the body is over 1 MiB."""
    if len(body) > MAX_BODY or (declared.isdigit() and int(declared) > MAX_BODY):
        raise BodyTooLarge(f"the body is over {MAX_BODY} bytes")


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"the body is not valid JSON: {exc}") from exc


async def read_json(request: Request) -> Any:
    """The JSON body, at most 1 MiB; InvalidPayload or BodyTooLarge otherwise."""
    return parse_json(await read_body(request))


def refuse_nul(data: Any, path: str = "") -> None:
    """InvalidPayload naming the first string holding a NUL (PostgreSQL cannot store it)."""
    if isinstance(data, str):
        if "\x00" in data:
            raise InvalidPayload(
                f"{path or 'body'}: must not contain NUL characters",
                details={"field": path or "body"},
            )
    elif isinstance(data, dict):
        for key, value in data.items():
            refuse_nul(key, path)
            refuse_nul(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            refuse_nul(value, f"{path}[{i}]")


async def read_hook_json(request: Request) -> Any:
    """The body of an alert hook: JSON of at most 1 MiB, without NUL characters."""
    body = await read_body(request)
    data = parse_json(body)
    if b"\\u0000" in body:  # JSON writes NUL as \u0000: walk the data only then
        refuse_nul(data)
    return data


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from exc


def parse(model: type[M], body: bytes) -> M:
    """The body parsed and validated in one pass (the fast path of the hooks); a body with
    a NUL character is refused naming the field."""
    if b"\\u0000" in body:  # JSON writes NUL as \\u0000: walk the data only then
        data = parse_json(body)
        refuse_nul(data)
        return validate(model, data)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        broken = [e for e in exc.errors() if e["type"] == "json_invalid"]
        if broken:
            reason = broken[0]["ctx"].get("error", broken[0]["msg"]) if "ctx" in broken[0] else ""
            raise InvalidPayload(f"the body is not valid JSON: {reason}") from exc
        raise _invalid(exc) from exc


def _invalid(exc: ValidationError) -> InvalidPayload:
    problems = [
        f"{format_path(tuple(e['loc'])) or 'body'}: {str(e['msg']).removeprefix('Value error, ')}"
        for e in exc.errors()
    ]
    first = format_path(tuple(exc.errors()[0]["loc"])) or "body"
    return InvalidPayload(
        "; ".join(problems[:10]), details={"field": first, "errors": problems[:50]}
    )


def bearer(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization", ""))


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header value; None for any other."""
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


def wants_wait(value: str | None) -> bool:
    """Whether the ``wait`` query parameter asks to answer after ingesting."""
    return (value or "").lower() in ("1", "true", "yes")


def accepted(answer: Accepted, wait: bool) -> dict[str, Any]:
    """The body of a 202: the alerts are committed (and ingested right after). With ``wait``,
    what ingesting them did, or ``ingested: false`` when that failed or took too long."""
    body: dict[str, Any] = {"status": "accepted", "alerts": answer.alerts}
    if wait:
        result = answer.result
        body["ingested"] = result is not None
        if result is not None:
            body.update(
                created=result.created,
                deduplicated=result.deduplicated,
                resolved=result.resolved,
                silenced=result.silenced,
                incidents=sorted(result.incidents),
            )
    return body


@router.post("/hooks/generic/{key}", status_code=202)
async def generic_hook(key: str, request: Request, wait: str | None = None) -> JSONResponse:
    """Take alerts in warroom's generic JSON shape (see docs/alerts.md)."""
    body = await read_body(request)
    data = parse_json(body)
    if isinstance(data, dict) and "alerts" not in data:
        data = {"alerts": [data]}  # one alert may come bare
    if b"\\u0000" in body:
        refuse_nul(data)
    payload = validate(generic.GenericPayload, data)
    alerts = [generic.normalize(a) for a in payload.alerts]
    waits = wants_wait(wait)
    submission = Submission(
        key=key, kind="generic", token=bearer(request), alerts=alerts, wait=waits
    )
    answer = await _intake(request).submit(submission)
    return JSONResponse(accepted(answer, waits), status_code=202)


def _pd_invalid(errors: list[str], status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status_code=status,
    )


@router.post("/v2/enqueue", status_code=202)
async def enqueue(request: Request) -> JSONResponse:
    """PagerDuty Events API v2 compatible: trigger, acknowledge and resolve events."""
    try:
        data = await read_hook_json(request)
    except InvalidPayload as exc:
        return _pd_invalid([exc.message])
    try:
        event = events_v2.Event.model_validate(data)
    except ValidationError as exc:
        return _pd_invalid([f"'{format_path(tuple(e['loc']))}' {e['msg']}" for e in exc.errors()])
    if problems := events_v2.missing_fields(event):
        return _pd_invalid(problems)
    dedup_key = events_v2.dedup_key_of(event)
    acknowledge = event.event_action == "acknowledge"
    submission = Submission(
        key=event.routing_key,
        kind="events-v2",
        token=bearer(request),
        alerts=[] if acknowledge else [events_v2.normalize(event, dedup_key)],
        acknowledge=dedup_key if acknowledge else None,
    )
    try:
        await _intake(request).submit(submission)
    except NotFound:
        return _pd_invalid(["Invalid routing key"], status=404)
    except WarroomError as exc:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.http_status
        )
    return JSONResponse(
        {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, status_code=202
    )
