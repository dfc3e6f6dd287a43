"""Docs that cannot rot: every setting, CLI command and API route is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from fastapi.routing import APIRoute

from warroom.cli import app as cli_app
from warroom.runtime import Runtime
from warroom.settings import Settings
from warroom.web.app import create_app

DOCS = Path(__file__).parent.parent / "docs"


def _commands(app: typer.Typer, prefix: str) -> list[str]:
    found = []
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        found.append(f"{prefix} {name.replace('_', '-')}")
    for group in app.registered_groups:
        assert group.typer_instance is not None
        found += _commands(group.typer_instance, f"{prefix} {group.name}")
    return found


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`WARROOM_{name.upper()}`" in text, f"WARROOM_{name.upper()} is undocumented"


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    commands = _commands(cli_app, "warroom")
    assert "warroom incident declare" in commands
    for command in commands:
        assert f"`{command}" in text, f"{command} is undocumented in docs/cli.md"


def test_every_api_route_is_documented(runtime: Runtime) -> None:
    text = (DOCS / "api.md").read_text()
    paths = create_app(runtime, run_worker=False).openapi()["paths"]
    routes = [(method.upper(), path) for path, ops in paths.items() for method in ops]
    assert len(routes) > 20
    for method, raw in routes:
        path = raw.replace("{incident_id}", "{id}").replace("{person_id}", "{id}")
        path = path.replace("{role_key}", "{role}").replace("{silence_id}", "{id}")
        path = path.replace("{schedule_id}", "{id}").replace("{policy_id}", "{id}")
        path = path.replace("{team_id}", "{id}").replace("{contact_id}", "{id}")
        path = path.replace("/twilio/voice/{incident_id}", "/twilio/voice/{id}")
        assert f"`{method} {path}`" in text, f"{method} {path} is undocumented"


def test_the_procedures_copy_matches_the_shared_original_when_present() -> None:
    original = DOCS.parent.parent / "shared" / "spec" / "emergency-response-procedures.md"
    copy = DOCS / "spec" / "emergency-response-procedures.md"
    assert copy.exists()
    if original.exists():  # in the team's workspace; a clean clone has only the copy
        assert copy.read_text() == original.read_text()


def test_every_page_is_documented(runtime: Runtime) -> None:
    text = (DOCS / "web.md").read_text()
    app = create_app(runtime, run_worker=False)
    machine = ("/ack/", "/slack/", "/twilio/", "/ical/", "/static", "/docs", "/redoc", "/openapi")
    routes = [  # included routers are wrapped; their routes are inside
        route
        for entry in app.routes
        for route in (
            entry.original_router.routes if hasattr(entry, "original_router") else [entry]
        )
    ]
    pages = [
        (method, route.path)
        for route in routes
        if isinstance(route, APIRoute) and not route.include_in_schema
        for method in sorted(route.methods - {"HEAD"})
        if not route.path.startswith(machine)
    ]
    assert ("GET", "/incidents/{incident_id}") in pages
    for method, raw in pages:
        path = re.sub(r"\{(incident|user|token|integration)_id\}", "{id}", raw)
        path = path.replace("{task_id}", "{task}")
        assert f"`{method} {path}`" in text, f"{method} {path} is undocumented in docs/web.md"
