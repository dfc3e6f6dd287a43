"""channel list | test."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from warroom.cli.context import fail, out, print_json, runtime
from warroom.notify.base import Message

app = typer.Typer(help="Outbound channels (WARROOM_CHANNELS_FILE).", no_args_is_help=True)


@app.command("list")
def list_channels(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Every configured channel: its kind, where it sends and which events."""
    rt = runtime()
    rows = [
        {"name": "console", "kind": "console", "target": "the warroom.notify log", "events": []}
    ]
    rows += [
        {"name": w.name, "kind": "webhook", "target": w.url, "events": list(w.events)}
        for w in rt.configured.webhooks
    ]
    rows += [
        {
            "name": e.name,
            "kind": "email",
            "target": f"smtp://{e.host}:{e.port} ({e.security}) as {e.sender}",
            "events": [],
        }
        for e in rt.configured.email
    ]
    rows += [
        {
            "name": s.name,
            "kind": "slack",
            "target": s.incidents_channel + (" (bot)" if s.bot_token else " (incoming webhook)"),
            "events": list(s.events),
        }
        for s in rt.configured.slack
    ]
    rows += [
        {"name": t.name, "kind": "teams", "target": "a Teams channel", "events": list(t.events)}
        for t in rt.configured.teams
    ]
    if (twilio := rt.configured.twilio) is not None:
        rows += [
            {"name": n, "kind": kind, "target": f"Twilio from {twilio.from_number}", "events": []}
            for kind, n in (("sms", twilio.sms_channel), ("voice", twilio.voice_channel))
            if n
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("Name", "Kind", "Sends to", "Events")
    for row in rows:
        events = ", ".join(row["events"]) if row["events"] else "-"
        table.add_row(*(escape(str(v)) for v in (row["name"], row["kind"], row["target"], events)))
    out.print(table)


@app.command("test")
def send_test(
    name: Annotated[str, typer.Argument(help="The channel's name.")],
    to: Annotated[
        str | None, typer.Option(help="Email, SMS and voice: the address or number to use.")
    ] = None,
) -> None:
    """Send a real test message now and show what the receiver answered."""
    rt = runtime()
    channel = rt.channels.get(name)
    if channel is None:
        known = ", ".join(sorted(rt.channels))
        fail(f"no channel named {name!r}; configured: {known}")
    target = rt.fixed_recipients().get(name)
    if target is None:  # email, SMS, voice: somebody in particular
        if not to:
            fail(f"--to: {name} sends to a person; say which address or number to use")
        target = to
    body = json.dumps(
        {
            "id": f"test-{uuid.uuid4().hex[:12]}",
            "type": "warroom.test",
            "timestamp": rt.clock.now().isoformat(),
            "data": {"message": "A test from warroom channel test: no action needed."},
        }
    )
    message = Message(
        recipient=target, subject="warroom.test", body=body, key=f"test-{uuid.uuid4()}"
    )
    try:
        receipt = channel.send(message)
    except Exception as exc:  # any failure of the provider is the answer we show
        fail(f"{name}: {type(exc).__name__}: {exc}", code=1)
    out.print(f"{name}: sent ({receipt.detail})", markup=False)
