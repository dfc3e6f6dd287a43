"""ChatOps: the ``/warroom`` command and the buttons, whatever chat they come from.

A command names its incident (``/warroom ack 42``) or runs in the incident's channel
(``inc-42-...``). Whoever types it must be in the directory with their chat user id; they
are the actor on the timeline (``slack:Ana Lima``). Every answer is one line of text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.errors import InvalidInput, NotFound, WarroomError
from warroom.incidents import assembly, changes, service, work
from warroom.incidents.lifecycle import Action
from warroom.incidents.schemas import IncidentCreate, IncidentUpdate
from warroom.notify.slack import incident_id_of
from warroom.people.models import Person
from warroom.runtime import Runtime

HELP = (
    "/warroom declare [P0-P3] [security] TITLE · ack [ID] · resolve [ID] · "
    "assign ROLE @person [ID] · severity P0 [ID] · page ROLE [ID] · update TEXT · status [ID]"
)
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
NUMBER = re.compile(r"#?(\d{1,12})")
TRANSITIONS: dict[str, Action] = {
    "ack": "acknowledge",
    "acknowledge": "acknowledge",
    "mitigate": "mitigate",
    "resolve": "resolve",
    "close": "close",
    "reopen": "reopen",
}


@dataclass(frozen=True)
class Said:
    """Who typed what, where."""

    chat_user: str
    text: str
    channel_name: str = ""


def run_command(runtime: Runtime, said: Said) -> str:
    """Carry out one ``/warroom`` command; the reply (errors too, as ``error: ...``)."""
    verb, _, rest = said.text.strip().partition(" ")
    verb = verb.lower()
    if verb in ("", "help"):
        return HELP
    try:
        with runtime.transaction() as session:
            person = person_of(session, said.chat_user)
            return _dispatch(runtime, session, person, verb, rest.strip(), said.channel_name)
    except WarroomError as exc:
        return f"error: {exc.message}"


def press(runtime: Runtime, chat_user: str, action: Action, incident_id: int) -> str:
    """A button: acknowledge or resolve the incident."""
    try:
        with runtime.transaction() as session:
            person = person_of(session, chat_user)
            return move(runtime, session, person, action, incident_id)
    except WarroomError as exc:
        return f"error: {exc.message}"


def add_to_timeline(
    runtime: Runtime, chat_user: str, channel_name: str, author: str, text: str
) -> str:
    """The message shortcut: a chat message onto the timeline of the channel's incident."""
    try:
        with runtime.transaction() as session:
            person = person_of(session, chat_user)
            incident_id, _ = _incident(channel_name, "")
            note = f"{text}\n(from chat, written by {author})" if author else text
            work.add_note(
                session=session,
                incident_id=incident_id,
                text=note,
                actor=_actor(person),
                clock=runtime.clock,
            )
            return f"added to the timeline of incident {incident_id}"
    except WarroomError as exc:
        return f"error: {exc.message}"


def person_of(session: Session, chat_user: str) -> Person:
    person = session.scalar(select(Person).where(Person.chat_id == chat_user))
    if person is None:
        raise NotFound(
            f"your chat account ({chat_user}) is not in warroom's directory: ask an admin to "
            f"set it as your chat_id",
            details={"field": "user"},
        )
    return person


def _actor(person: Person, via: str = "slack") -> str:
    return f"{via}:{person.name}"


def _dispatch(
    runtime: Runtime, session: Session, person: Person, verb: str, rest: str, channel: str
) -> str:
    if verb == "declare":
        return _declare(runtime, session, person, rest)
    if verb in TRANSITIONS:
        incident_id, _ = _incident(channel, rest)
        return move(runtime, session, person, TRANSITIONS[verb], incident_id)
    if verb == "assign":
        return _assign(runtime, session, person, rest, channel)
    if verb == "severity":
        level, _, more = rest.partition(" ")
        incident_id, _ = _incident(channel, more)
        changes.update(
            session=session,
            playbook=runtime.playbook,
            incident_id=incident_id,
            changes=IncidentUpdate(severity=level.upper(), reason="changed from chat"),
            actor=_actor(person),
            clock=runtime.clock,
        )
        return f"incident {incident_id} is now {level.upper()}"
    if verb == "page":
        return _page(runtime, session, person, rest, channel)
    if verb == "update":
        incident_id, text = _incident(channel, rest, free_text=True)
        work.add_note(
            session=session,
            incident_id=incident_id,
            text=text,
            actor=_actor(person),
            clock=runtime.clock,
        )
        return f"update added to incident {incident_id}"
    if verb == "status":
        incident_id, _ = _incident(channel, rest)
        return _status(session, incident_id)
    raise InvalidInput("command", f"unknown command {verb!r}; {HELP}")


def _declare(runtime: Runtime, session: Session, person: Person, rest: str) -> str:
    words = rest.split()
    severity = "P2"
    if words and re.fullmatch(r"[Pp][0-3]", words[0]):
        severity = words.pop(0).upper()
    kind = "operational"
    if words and words[0].lower() == "security":
        kind = words.pop(0).lower()
    if not words:
        raise InvalidInput("title", "say what is wrong: /warroom declare P1 Checkout is down")
    incident, _ = service.declare(
        session=session,
        playbook=runtime.playbook,
        data=IncidentCreate(title=" ".join(words), severity=severity, type=kind, source="slack"),
        actor=_actor(person),
        clock=runtime.clock,
    )
    return f"incident {incident.id} declared: [{severity}] {incident.title}"


def move(
    runtime: Runtime,
    session: Session,
    person: Person,
    action: Action,
    iid: int,
    via: str = "slack",
) -> str:
    """Acknowledge, resolve... the incident as the person, from ``via`` (slack, sms, voice)."""
    incident = changes.transition(
        session=session,
        playbook=runtime.playbook,
        incident_id=iid,
        action=action,
        actor=_actor(person, via),
        clock=runtime.clock,
        note=f"from {via}",
    )
    return f"incident {iid} is now {incident.status} ({person.name})"


def _assign(runtime: Runtime, session: Session, person: Person, rest: str, channel: str) -> str:
    mention = MENTION.search(rest)
    if mention is None:
        raise InvalidInput("person", "mention who: /warroom assign incident-commander @ana")
    role_ref = rest[: mention.start()].strip()
    incident_id, _ = _incident(channel, rest[mention.end() :])
    role = assembly.find_role(runtime.playbook, role_ref)
    holder = person_of(session, mention.group(1))
    work.assign_role(
        session=session,
        playbook=runtime.playbook,
        incident_id=incident_id,
        role_key=role.key,
        person_id=holder.id,
        actor=_actor(person),
        clock=runtime.clock,
    )
    return f"{holder.name} is now {role.name} of incident {incident_id}"


def _page(runtime: Runtime, session: Session, person: Person, rest: str, channel: str) -> str:
    found = re.search(r"\s#?(\d{1,12})$", f" {rest}")
    role_ref = rest[: found.start() - 1].strip() if found else rest
    incident_id, _ = _incident(channel, found.group(1) if found else "")
    role = assembly.find_role(runtime.playbook, role_ref)
    incident = service.get(session=session, incident_id=incident_id, lock=True)
    paged = assembly.page_role(
        session=session, incident=incident, role=role, actor=_actor(person), now=runtime.clock.now()
    )
    return f"paging {paged.name} as {role.name} for incident {incident_id}"


def _status(session: Session, incident_id: int) -> str:
    incident = service.get(session=session, incident_id=incident_id)
    ids = [r.person_id for r in incident.roles]
    query = select(Person.id, Person.name).where(Person.id.in_(ids))
    names = dict(session.execute(query).all())
    roles = ", ".join(f"{r.role_key}: {names.get(r.person_id, '?')}" for r in incident.roles)
    return f"incident {incident.id} [{incident.severity}] {incident.title}: {incident.status}; " + (
        roles or "no roles assigned"
    )


def _incident(channel: str, rest: str, *, free_text: bool = False) -> tuple[int, str]:
    """The incident a command is about, and the text left. A command with free text
    (update) in an incident's channel is about that incident and all its text is kept;
    elsewhere it starts with the number. Other commands take the number alone, or the
    channel's incident when it is left out."""
    in_channel = incident_id_of(channel)
    if free_text and in_channel is not None:
        return in_channel, rest
    first, _, more = rest.strip().partition(" ")
    found = NUMBER.fullmatch(first)
    if found and (free_text or not more.strip()):
        return int(found.group(1)), more.strip()
    if first and not free_text:
        raise InvalidInput("incident", f"{first!r} is not an incident number")
    if in_channel is not None:
        return in_channel, rest
    raise InvalidInput(
        "incident", "say which incident (e.g. /warroom ack 42), or run it in the incident's channel"
    )
