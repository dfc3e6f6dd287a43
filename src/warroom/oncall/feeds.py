"""iCalendar feeds of on-call shifts, behind secret links calendar clients subscribe to.

A link carries a token: HMAC-SHA256 of what the feed shows, keyed by the server's secret
key. Anyone with the link sees the feed; nobody can guess one; rotating the secret key
retires every link.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta

PAST = timedelta(days=7)
AHEAD = timedelta(days=60)


def token(secret_key: str, subject: str) -> str:
    """The token of the feed of ``subject`` ("schedule:3", "person:7")."""
    digest = hmac.new(secret_key.encode(), f"ical:{subject}".encode(), hashlib.sha256)
    return digest.hexdigest()[:40]


def link(*, base_url: str, secret_key: str, kind: str, subject_id: int) -> str:
    """The secret feed URL of a schedule (``kind`` "schedule") or a person ("person")."""
    folder = {"schedule": "schedules", "person": "people"}[kind]
    secret = token(secret_key, f"{kind}:{subject_id}")
    return f"{base_url}/ical/{folder}/{subject_id}.ics?token={secret}"


def valid(secret_key: str, subject: str, given: str) -> bool:
    return hmac.compare_digest(token(secret_key, subject), given)


def window(now: datetime) -> tuple[datetime, datetime]:
    """The stretch a feed covers: a week back, 60 days ahead."""
    return now - PAST, now + AHEAD


def calendar(
    *, name: str, shifts: Iterable[tuple[datetime, datetime, str, str]], now: datetime
) -> bytes:
    """A calendar of (start, end, title, uid) shifts, times in UTC."""
    from icalendar import Calendar, Event  # here: the CLI and the worker start without it

    cal = Calendar()
    cal.add("prodid", "-//warroom//on-call//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("method", "PUBLISH")
    for start, end, title, uid in shifts:
        event = Event()
        event.add("uid", uid)
        event.add("dtstamp", now)
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", title)
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return bytes(cal.to_ical())
