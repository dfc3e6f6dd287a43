"""integration create | list | rotate-key · alert list · silence create | list | expire."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from warroom.alerts import backlog, integrations, journal, queries, silences
from warroom.alerts.ingester import Ingester
from warroom.alerts.schemas import AlertFilter, AlertRead, SilenceCreate, SilenceRead
from warroom.cli.context import actor, out, print_json, runtime
from warroom.cli.render import when

integration_app = typer.Typer(help="Alert sources and their URLs.", no_args_is_help=True)
alert_app = typer.Typer(help="Inbound alerts.", no_args_is_help=True)
silence_app = typer.Typer(help="Silences (maintenance windows).", no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="JSON output.")]


@integration_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="A name for the source, e.g. prometheus-prod.")],
    kind: Annotated[str, typer.Option(help="alertmanager, grafana, events-v2 or generic.")],
    auth_token: Annotated[
        str | None, typer.Option(help="Require this bearer token from the sender (16+ characters).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Create an integration and print the URL its source posts to."""
    rt = runtime()
    with rt.transaction() as session:
        read = integrations.as_read(
            integrations.create(
                session=session, name=name, kind=kind, auth_token=auth_token, now=rt.clock.now()
            ),
            rt.settings.resolved_base_url(),
        )
    if as_json:
        print_json(read)
        return
    out.print(f"integration {read.name} ({read.kind})", markup=False)
    out.print(f"url: {read.url}", markup=False)
    if read.kind == "events-v2":
        out.print(f"routing_key: {read.key}", markup=False)


@integration_app.command("list")
def list_integrations(as_json: Json = False) -> None:
    """Every integration and its URL."""
    rt = runtime()
    with rt.read() as session:
        base_url = rt.settings.resolved_base_url()
        reads = [
            integrations.as_read(i, base_url)
            for i in integrations.list_integrations(session=session)
        ]
    if as_json:
        print_json(reads)
        return
    table = Table("Name", "Kind", "URL", "Token")
    for r in reads:
        table.add_row(escape(r.name), r.kind, escape(r.url), "yes" if r.requires_token else "")
    out.print(table)


@integration_app.command("rotate-key")
def rotate(name: Annotated[str, typer.Argument(help="The integration's name.")]) -> None:
    """Give an integration a new key (the old URL stops working)."""
    rt = runtime()
    with rt.transaction() as session:
        read = integrations.as_read(
            integrations.rotate_key(session=session, name=name), rt.settings.resolved_base_url()
        )
    out.print(f"url: {read.url}", markup=False)


@alert_app.command("list")
def list_alerts(
    status: Annotated[str | None, typer.Option(help="firing or resolved.")] = None,
    integration: Annotated[str | None, typer.Option(help="Integration name.")] = None,
    incident: Annotated[int | None, typer.Option(help="Incident id.")] = None,
    limit: Annotated[int, typer.Option(help="Page size.")] = 50,
    as_json: Json = False,
) -> None:
    """Alerts, newest first."""
    filters = AlertFilter.model_validate(
        {"status": status, "integration": integration, "incident_id": incident, "limit": limit}
    )
    with runtime().read() as session:
        rows, total = queries.list_alerts(session=session, filters=filters)
        items = [AlertRead.model_validate(r) for r in rows]
    if as_json:
        print_json({"items": [a.model_dump(mode="json") for a in items], "total": total})
        return
    _alert_table(items, total)


@alert_app.command("intake")
def intake(
    retry: Annotated[
        bool, typer.Option(help="Ingest the requests set aside again, now (after a fix).")
    ] = False,
    as_json: Json = False,
) -> None:
    """Hook requests committed but not yet ingested, and those set aside after failing."""
    rt = runtime()
    if retry:
        with rt.transaction() as session:
            again = backlog.retry_failed(session=session)
        ingester = Ingester(rt)
        while ingester.ingest_next():
            pass
    with rt.read() as session:
        state = journal.state(session=session, url=rt.settings.resolved_database_url())
    if retry:
        out.print(f"{again} request(s) set aside were tried again; {state.failed} failed again")
    if as_json:
        oldest = state.oldest.isoformat() if state.oldest else None
        print_json(dataclasses.asdict(state) | {"oldest": oldest})
        return
    oldest = f", the oldest from {when(state.oldest)}" if state.oldest else ""
    out.print(f"pending: {state.pending} request(s), {state.pending_alerts} alert(s){oldest}")
    out.print(f"set aside after failing: {state.failed}", markup=False)


def _alert_table(items: list[AlertRead], total: int) -> None:
    table = Table(
        "ID",
        "Status",
        "Severity",
        "Summary",
        "Count",
        "Last seen",
        "Incident",
        caption=f"{len(items)} of {total}",
    )
    for a in items:
        silenced = " (silenced)" if a.silenced_by else ""
        table.add_row(
            str(a.id),
            a.status + silenced,
            a.severity or "-",
            escape(a.summary),
            str(a.count),
            when(a.last_seen_at),
            str(a.incident_id or ""),
        )
    out.print(table)


@silence_app.command("create")
def create_silence(
    matcher: Annotated[
        list[str],
        typer.Option("--matcher", "-m", help="name=value, name!=value, name=~regex; repeatable."),
    ],
    duration: Annotated[str, typer.Option(help="How long, e.g. 2h.")] = "1h",
    comment: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Silence matching alerts from now on, for a while."""
    rt = runtime()
    body = SilenceCreate.model_validate(
        {"matchers": matcher, "duration": duration, "comment": comment}
    )
    with rt.transaction() as session:
        silence = silences.create_from(
            session=session, request=body, actor=actor(), now=rt.clock.now()
        )
        silence_id, ends = silence.id, silence.ends_at
    out.print(f"silence {silence_id} until {when(ends)}", markup=False)


@silence_app.command("list")
def list_silences(
    expired: Annotated[bool, typer.Option(help="Include ended ones.")] = False,
    as_json: Json = False,
) -> None:
    """Active and future silences."""
    rt = runtime()
    with rt.read() as session:
        rows = [
            SilenceRead.model_validate(s)
            for s in silences.list_silences(
                session=session, now=rt.clock.now(), include_expired=expired
            )
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("ID", "Matchers", "From", "Until", "Comment")
    for s in rows:
        table.add_row(
            str(s.id),
            escape(", ".join(s.matchers)),
            when(s.starts_at),
            when(s.ends_at),
            escape(s.comment),
        )
    out.print(table)


@silence_app.command("expire")
def expire(
    silence_id: Annotated[int, typer.Argument(help="The silence's id.", min=1, max=2**31 - 1)],
) -> None:
    """End a silence now."""
    rt = runtime()
    with rt.transaction() as session:
        silences.expire(session=session, silence_id=silence_id, now=rt.clock.now())
    out.print(f"silence {silence_id} ended", markup=False)
