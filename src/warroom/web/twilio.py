"""Twilio's requests to warroom: SMS replies ("ACK 42", "RESOLVE 42") and the key pressed on
a page call ("press 1 to acknowledge").

Each request's ``X-Twilio-Signature`` is checked with the ``twilio`` library's
``RequestValidator`` against the public URL (``WARROOM_BASE_URL`` + path) and the auth
token; a bad one, or one seen before (a replay), is a 401 and does nothing. The sender is
found by phone number; the timeline's actor is ``sms:NAME`` or ``voice:NAME``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from warroom.errors import NotFound, Unauthorized, WarroomError
from warroom.incidents.lifecycle import Action
from warroom.incidents.models import Incident
from warroom.notify.models import PAGE, Delivery
from warroom.people.models import Person
from warroom.runtime import Runtime
from warroom.web.chatops import move
from warroom.web.deps import IdPath
from warroom.web.errors import refusal
from warroom.web.replays import SeenSignatures

router = APIRouter(prefix="/twilio", tags=["twilio"])
MAX_BODY = 64 * 1024
REPLY = re.compile(r"^\s*(ack|acknowledge|resolve)\b\s*#?(\d{1,12})?\s*$", re.IGNORECASE)
VERBS: dict[str, Action] = {
    "ack": "acknowledge",
    "acknowledge": "acknowledge",
    "resolve": "resolve",
}


async def _verified(request: Request) -> tuple[Runtime, dict[str, str]]:
    runtime: Runtime = request.app.state.runtime
    twilio = runtime.configured.twilio
    if twilio is None or twilio.auth_token is None:
        raise NotFound("twilio is not configured", details={"field": "path"})
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Unauthorized("request too large")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    url = runtime.settings.resolved_base_url() + request.url.path
    if request.url.query:
        url += f"?{request.url.query}"
    signature = request.headers.get("x-twilio-signature", "")
    validator = RequestValidator(twilio.auth_token.get_secret_value())
    if not signature or not validator.validate(url, fields, signature):
        raise Unauthorized("bad Twilio signature")
    seen: SeenSignatures = request.app.state.seen_signatures
    if not seen.first_time(signature):
        raise Unauthorized("this Twilio request was already received (a replay)")
    return runtime, fields


def _xml(twiml: object) -> Response:
    return Response(str(twiml), media_type="application/xml")


def answer_sms(runtime: Runtime, phone: str, text: str) -> str:
    """What to text back to an SMS reply, after carrying it out."""
    found = REPLY.match(text)
    if found is None:
        return "warroom: reply ACK 42 to acknowledge incident 42, RESOLVE 42 to resolve it"
    try:
        with runtime.transaction() as session:
            person = session.scalar(select(Person).where(Person.phone == phone))
            if person is None:
                return "warroom: this number is not in the directory"
            incident_id = int(found.group(2)) if found.group(2) else _last_paged(session, person)
            done = move(runtime, session, person, VERBS[found.group(1).lower()], incident_id, "sms")
            return f"warroom: {done}"
    except WarroomError as exc:
        return f"warroom: {exc.message}"


def _last_paged(session: Session, person: Person) -> int:
    """The incident of the newest page to the person that is still waiting."""
    incident_id = session.scalar(
        select(Delivery.incident_id)
        .join(Incident, Incident.id == Delivery.incident_id)
        .where(Delivery.person_id == person.id, Delivery.kind == PAGE)
        .where(Incident.status == "triggered")
        .order_by(Delivery.id.desc())
        .limit(1)
    )
    if incident_id is None:
        raise NotFound("no page is waiting for you; say which: ACK 42", details={"field": "Body"})
    return int(incident_id)


def answer_key(runtime: Runtime, phone: str, incident_id: int, digits: str) -> str:
    """What to say after a key press on a page call."""
    if digits != "1":
        return "Not acknowledged. Goodbye."
    try:
        with runtime.transaction() as session:
            person = session.scalar(select(Person).where(Person.phone == phone))
            if person is None:
                return "This number is not in the directory. Goodbye."
            move(runtime, session, person, "acknowledge", incident_id, "voice")
            return f"Incident {incident_id} acknowledged. Goodbye."
    except WarroomError as exc:
        return f"{exc.message}. Goodbye."


@router.post("/sms")
async def sms(request: Request) -> Response:
    """An SMS to warroom's number: ACK or RESOLVE, with or without the incident number."""
    try:
        runtime, form = await _verified(request)
    except (NotFound, Unauthorized) as exc:
        return refusal(exc)
    text = await run_in_threadpool(answer_sms, runtime, form.get("From", ""), form.get("Body", ""))
    reply = MessagingResponse()
    reply.message(text)
    return _xml(reply)


@router.post("/voice/{incident_id}")
async def voice(incident_id: IdPath, request: Request) -> Response:
    """The key pressed on a page call (the call went to ``To``)."""
    try:
        runtime, form = await _verified(request)
    except (NotFound, Unauthorized) as exc:
        return refusal(exc)
    said = await run_in_threadpool(
        answer_key, runtime, form.get("To", ""), incident_id, form.get("Digits", "")
    )
    reply = VoiceResponse()
    reply.say(said)
    return _xml(reply)
