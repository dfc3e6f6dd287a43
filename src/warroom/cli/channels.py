"""channel list | test."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from warroom.cli.context import fail, out, print_json, runtime
from warroom.errors import InvalidInput, NotFound
from warroom.notify import testing

app = typer.Typer(help="Outbound channels (WARROOM_CHANNELS_FILE).", no_args_is_help=True)


@app.command("list")
def list_channels(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Every configured channel: its kind, where it sends and which events."""
    rows = testing.describe(runtime().configured)
    if as_json:
        print_json([asdict(row) | {"events": list(row.events)} for row in rows])
        return
    table = Table("Name", "Kind", "Sends to", "Events")
    for row in rows:
        events = ", ".join(row.events) if row.events else "-"
        table.add_row(*(escape(str(v)) for v in (row.name, row.kind, row.target, events)))
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
    try:
        receipt = testing.send_test(
            channels=rt.channels,
            fixed=rt.fixed_recipients(),
            name=name,
            to=to or "",
            now=rt.clock.now(),
        )
    except NotFound as exc:
        fail(exc.message)
    except InvalidInput as exc:
        fail(f"--{exc.message}")
    except Exception as exc:  # any failure of the provider is the answer we show
        fail(f"{name}: {type(exc).__name__}: {exc}", code=1)
    out.print(f"{name}: sent ({receipt.detail})", markup=False)
