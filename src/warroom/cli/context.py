"""What every CLI command shares: the runtime, the actor, output and error reporting."""

from __future__ import annotations

import getpass
import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import yaml
from pydantic import BaseModel
from rich.console import Console

from warroom.playbook.loader import yaml_problem
from warroom.runtime import Runtime, build_runtime
from warroom.settings import Settings

MAX_ACTOR = 200

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@cache
def runtime() -> Runtime:
    """The runtime of this CLI run; a SQLite database is created or upgraded on first use."""
    rt = build_runtime(Settings())
    rt.prepare_database()
    return rt


def actor() -> str:
    """Who the CLI acts as on the timeline: ``WARROOM_ACTOR`` or ``cli:<login>``."""
    name = os.environ.get("WARROOM_ACTOR") or f"cli:{_login()}"
    if len(name) > MAX_ACTOR:
        fail(f"WARROOM_ACTOR: at most {MAX_ACTOR} characters")
    return name


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def print_json(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    """Machine-readable output on stdout."""
    if isinstance(value, BaseModel):
        sys.stdout.write(value.model_dump_json(indent=2) + "\n")
        return
    data = (
        [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
        if isinstance(value, list)
        else value
    )
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit."""
    err.print(f"error: {message}", markup=False)
    raise SystemExit(code)


def read_yaml_mapping(path: Path, expected: str) -> dict[str, Any]:
    """A YAML file holding a mapping; one clear line and exit 2 otherwise."""
    try:
        data: Any = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")
    except yaml.YAMLError as exc:
        fail(f"{path}: {yaml_problem(exc)}")
    if not isinstance(data, dict):
        fail(f"{path}: expected {expected}")
    return data
