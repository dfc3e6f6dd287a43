"""Slack's requests to warroom: the ``/warroom`` slash command, the Acknowledge and Resolve
buttons, and the "Add to incident timeline" message shortcut.

Every request is verified first (slack-sdk's ``SignatureVerifier``: HMAC-SHA256 of
``v0:timestamp:body`` with the signing secret, timestamps older than 5 minutes refused);
a signature already seen is refused too, so a captured request cannot be replayed. A bad
one gets a 401 and nothing is done. Without a Slack signing secret these routes are 404.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from slack_sdk.signature import SignatureVerifier

from warroom.errors import NotFound, Unauthorized
from warroom.incidents.lifecycle import Action
from warroom.notify.slack import ACKNOWLEDGE, RESOLVE
from warroom.runtime import Runtime
from warroom.web import chatops
from warroom.web.errors import error_body, refusal
from warroom.web.replays import SeenSignatures

router = APIRouter(prefix="/slack", include_in_schema=True, tags=["slack"])
MAX_BODY = 64 * 1024
SHORTCUT = "warroom_add_to_timeline"
BUTTONS: dict[str, Action] = {ACKNOWLEDGE: "acknowledge", RESOLVE: "resolve"}


async def _verified(request: Request) -> tuple[Runtime, dict[str, str]]:
    """The runtime and the form fields of a genuine, first-time Slack request."""
    runtime: Runtime = request.app.state.runtime
    secrets = [s.signing_secret for s in runtime.configured.slack if s.signing_secret]
    if not secrets:
        raise NotFound("slack is not configured", details={"field": "path"})
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Unauthorized("request too large")
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    verifier = SignatureVerifier(secrets[0].get_secret_value())
    if not signature or not verifier.is_valid(body, timestamp, signature):
        raise Unauthorized("bad or stale Slack signature")
    seen: SeenSignatures = request.app.state.seen_signatures
    if not seen.first_time(signature):
        raise Unauthorized("this Slack request was already received (a replay)")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    return runtime, fields


@router.post("/commands")
async def command(request: Request) -> Response:
    """The ``/warroom`` slash command; answers in the channel, errors only to the user."""
    try:
        runtime, form = await _verified(request)
    except (NotFound, Unauthorized) as exc:
        return refusal(exc)
    said = chatops.Said(
        chat_user=form.get("user_id", ""),
        text=form.get("text", ""),
        channel_name=form.get("channel_name", ""),
    )
    reply = await run_in_threadpool(chatops.run_command, runtime, said)
    private = reply.startswith("error:") or said.text.strip().lower() in ("", "help")
    return JSONResponse({"response_type": "ephemeral" if private else "in_channel", "text": reply})


@router.post("/interactions")
async def interaction(request: Request) -> Response:
    """Buttons on pages and incident posts, and the message shortcut."""
    try:
        runtime, form = await _verified(request)
    except (NotFound, Unauthorized) as exc:
        return refusal(exc)
    try:
        payload: dict[str, Any] = json.loads(form.get("payload", ""))
    except ValueError:
        return JSONResponse(
            error_body("invalid_input", "payload: not JSON", {"field": "payload"}), status_code=400
        )
    user = str((payload.get("user") or {}).get("id", ""))
    if payload.get("type") == "block_actions":
        replies = []
        for action in payload.get("actions") or []:
            move = BUTTONS.get(str(action.get("action_id")))
            value = str(action.get("value", ""))
            if move is not None and value.isdigit():
                replies.append(
                    await run_in_threadpool(chatops.press, runtime, user, move, int(value))
                )
        return JSONResponse({"text": "; ".join(replies)})
    if payload.get("type") == "message_action" and payload.get("callback_id") == SHORTCUT:
        message = payload.get("message") or {}
        reply = await run_in_threadpool(
            chatops.add_to_timeline,
            runtime,
            user,
            str((payload.get("channel") or {}).get("name", "")),
            str(message.get("user", "")),
            str(message.get("text", "")),
        )
        return JSONResponse({"text": reply})
    return JSONResponse({"text": "nothing to do"})
