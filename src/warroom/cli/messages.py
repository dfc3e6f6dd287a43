"""incident message: a playbook template, filled and sent."""

from __future__ import annotations

from typing import Annotated

import typer

from warroom.cli.context import actor, fail, out, runtime
from warroom.db import MAX_ID
from warroom.incidents import messages
from warroom.incidents.service import get


def message(
    incident_id: Annotated[int, typer.Argument(help="The incident's id.", min=1, max=MAX_ID)],
    template: Annotated[str, typer.Option(help="Template key, e.g. internal-alert.")],
    channel: Annotated[list[str], typer.Option(help="Channel to send on; repeat for more.")],
    to: Annotated[
        list[str] | None, typer.Option(help="Recipient for email or SMS channels; repeat.")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="A placeholder value: name=value; repeat.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show the message, send nothing.")] = False,
) -> None:
    """Fill a playbook template from the incident (and --set values) and send it."""
    values = {}
    for item in set_ or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--set: {item!r} is not name=value")
        values[name.strip()] = value
    request = messages.MessageRequest(
        template=template, channels=channel, to=to or [], values=values
    )
    rt = runtime()
    with rt.transaction() as session:
        incident = get(session=session, incident_id=incident_id, lock=True)
        sent = messages.send(
            session=session,
            playbook=rt.playbook,
            incident=incident,
            request=request,
            channels=list(rt.channels),
            fixed_recipients=rt.fixed_recipients(),
            actor=actor(),
            base_url=rt.settings.resolved_base_url(),
            now=rt.clock.now(),
            dry_run=dry_run,
        )
    out.print(sent.subject, markup=False)
    out.print(sent.text, markup=False)
    if not dry_run:
        out.print(f"queued {len(sent.deliveries)} deliveries", markup=False)
