"""serve, worker, db upgrade and token create."""

from __future__ import annotations

import gc
import logging
import sys
from typing import Annotated

import typer

from warroom import migrate
from warroom.auth import service as auth
from warroom.auth import users
from warroom.auth.policy import ROLES
from warroom.cli.context import out, runtime
from warroom.db import create_db_engine
from warroom.engine.worker import run_due
from warroom.runtime import Runtime
from warroom.settings import Settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.add_typer(db_app, name="db")
    app.add_typer(token_app, name="token")


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (WARROOM_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (WARROOM_PORT).")] = None,
    with_worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the job worker inside.")
    ] = True,
) -> None:
    """Serve the API (and run the job worker) until stopped."""
    import uvicorn  # deferred: the other commands start faster without the web stack

    from warroom.web.app import create_app

    logging.getLogger("warroom").setLevel(logging.INFO)
    rt = runtime()
    bind_host, bind_port = host or rt.settings.host, port or rt.settings.port
    # links in pages and events point at where this server listens (unless WARROOM_BASE_URL)
    rt.settings = rt.settings.model_copy(update={"host": bind_host, "port": bind_port})
    bootstrap_admin(rt)
    app = create_app(rt, run_worker=with_worker and rt.settings.worker)
    gc.freeze()  # what start-up made lives as long as the process: the collector skips it
    # a young collection holds every thread up while it frees what became garbage (each
    # transaction's session leaves reference cycles): collected often, each pause is short
    gc.set_threshold(*GC_THRESHOLDS)
    # a thread woken to answer a request, or to deliver a page, waits for the interpreter lock
    # at most this long while another thread computes (Python's default: 5 ms)
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    out.print(f"warroom serving on http://{bind_host}:{bind_port} (API docs at /docs)")
    uvicorn.run(
        app,
        host=bind_host,
        port=bind_port,
        log_level="info",
        access_log=rt.settings.access_log,
        http="httptools",
        timeout_graceful_shutdown=5,  # open live pages do not hold a restart up
        loop="uvloop" if sys.platform != "win32" else "asyncio",
    )


FIRST_ADMIN = "admin@warroom.local"
SWITCH_INTERVAL_SECONDS = 0.001
GC_THRESHOLDS = (2_000, 20, 20)  # at 50,000, a young collection took 31 ms under load


def bootstrap_admin(rt: Runtime) -> None:
    """On the very first run, create an admin user and an admin token and print both, once."""
    password = users.generated_password()
    with rt.transaction() as session:
        if auth.count_tokens(session=session) or users.count_users(session=session):
            return
        users.create_user(
            session=session,
            email=FIRST_ADMIN,
            name="Admin",
            role="admin",
            password=password,
            now=rt.clock.now(),
        )
        _, secret = auth.create_token(
            session=session, name="admin", role="admin", now=rt.clock.now()
        )
    base = rt.settings.resolved_base_url()
    out.print("\n[bold]First run: an admin was created. This is shown only now.[/]")
    out.print(f"  sign in at {base}/login", markup=False)
    out.print(f"    email:    {FIRST_ADMIN}", markup=False)
    out.print(f"    password: {password}", markup=False)
    out.print("  API token (for curl, scripts and the CLI's peers):", markup=False)
    out.print(f"    token: {secret}", markup=False)
    out.print(
        f"  try:   curl -H 'Authorization: Bearer {secret}' {base}/api/v1/incidents", markup=False
    )
    out.print(f"  or open {base}/docs, press Authorize and paste the token.\n", markup=False)


def worker(
    once: Annotated[bool, typer.Option(help="Run the jobs due now, then exit.")] = False,
) -> None:
    """Run the job worker alone (several may run against PostgreSQL)."""
    logging.getLogger("warroom").setLevel(logging.INFO)  # "worker host:pid started/stopped"
    rt = runtime()
    if once:
        total = 0
        while taken := run_due(factory=rt.factory, clock=rt.clock, handlers=rt.handlers()):
            total += taken
        out.print(f"ran {total} job(s)")
        return
    w = rt.worker()
    rt.start_auditor()
    try:
        w.run_forever()
    except KeyboardInterrupt:
        w.stop()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to the newest revision."""
    settings = Settings()
    engine = create_db_engine(settings.resolved_database_url())
    migrate.upgrade(engine)
    out.print(f"database at {engine.url.render_as_string(hide_password=True)} is current")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")],
    role: Annotated[str, typer.Option(help=", ".join(ROLES) + ".")] = "responder",
) -> None:
    """Create an API token; it is printed once and only its hash is stored."""
    rt = runtime()
    with rt.transaction() as session:
        _, secret = auth.create_token(session=session, name=name, role=role, now=rt.clock.now())
    out.print(secret, markup=False)
