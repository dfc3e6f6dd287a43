"""What the configured channels are, and a real test send through one of them: shared by
``warroom channel list | test`` and the admin pages."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from warroom.errors import InvalidInput, NotFound
from warroom.notify.base import Channel, Message, Receipt
from warroom.notify.config import ChannelsConfig

TEST_TYPE = "warroom.test"


@dataclass(frozen=True)
class ChannelInfo:
    """One configured channel as people see it."""

    name: str
    kind: str
    target: str  # where it sends, in words; never a secret
    events: tuple[str, ...]  # the events it is sent (none: only what is addressed to it)


def describe(configured: ChannelsConfig) -> list[ChannelInfo]:
    """Every channel, the console first, in the order of the channels file."""
    rows = [ChannelInfo("console", "console", "the warroom.notify log", ())]
    rows += [ChannelInfo(w.name, "webhook", w.url, tuple(w.events)) for w in configured.webhooks]
    rows += [
        ChannelInfo(e.name, "email", f"smtp://{e.host}:{e.port} ({e.security}) as {e.sender}", ())
        for e in configured.email
    ]
    rows += [
        ChannelInfo(
            s.name,
            "slack",
            s.incidents_channel + (" (bot)" if s.bot_token else " (incoming webhook)"),
            tuple(s.events),
        )
        for s in configured.slack
    ]
    rows += [
        ChannelInfo(t.name, "teams", "a Teams channel", tuple(t.events)) for t in configured.teams
    ]
    if (twilio := configured.twilio) is not None:
        rows += [
            ChannelInfo(n, kind, f"Twilio from {twilio.from_number}", ())
            for kind, n in (("sms", twilio.sms_channel), ("voice", twilio.voice_channel))
            if n
        ]
    return rows


def sample_message(*, recipient: str, now: datetime) -> Message:
    """A test message any receiver can tell apart from a real event."""
    body = json.dumps(
        {
            "id": f"test-{uuid.uuid4().hex[:12]}",
            "type": TEST_TYPE,
            "timestamp": now.isoformat(),
            "data": {"message": "A test from warroom channel test: no action needed."},
        }
    )
    return Message(recipient=recipient, subject=TEST_TYPE, body=body, key=f"test-{uuid.uuid4()}")


def send_test(
    *,
    channels: Mapping[str, Channel],
    fixed: Mapping[str, str],
    name: str,
    to: str,
    now: datetime,
) -> Receipt:
    """Send a test through channel ``name`` now: to where it always sends (``fixed``), or,
    for email, SMS and voice, to ``to``. NotFound, InvalidInput, or whatever the provider's
    failure raised."""
    channel = channels.get(name)
    if channel is None:
        known = ", ".join(sorted(channels))
        raise NotFound(
            f"no channel named {name!r}; configured: {known}", details={"field": "channel"}
        )
    recipient = fixed.get(name) or to.strip()
    if not recipient:
        raise InvalidInput("to", f"{name} sends to a person; say which address or number to use")
    return channel.send(sample_message(recipient=recipient, now=now))
