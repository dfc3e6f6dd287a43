"""Load a playbook from YAML, naming the path of every bad field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from warroom.errors import PlaybookError
from warroom.playbook.checks import check_playbook
from warroom.playbook.schema import Playbook


def default_playbook_text() -> str:
    """The built-in playbook, which encodes the emergency response procedures."""
    return resources.files("warroom.playbook").joinpath("default.yaml").read_text("utf-8")


def load_playbook(path: Path | None = None) -> Playbook:
    """The playbook at ``path``, or the built-in one; raises PlaybookError listing problems."""
    if path is None:
        return parse_playbook(default_playbook_text())
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PlaybookError([f"{path}: cannot read: {exc.strerror}"]) from exc
    return parse_playbook(text)


def parse_playbook(text: str) -> Playbook:
    """Parse and validate playbook YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "yaml"
        raise PlaybookError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(data, dict):
        raise PlaybookError(["(top): the playbook must be a mapping"])
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        raise PlaybookError([_describe(error) for error in exc.errors()]) from exc
    problems = check_playbook(playbook)
    if problems:
        raise PlaybookError(problems)
    return playbook


def _describe(error: Any) -> str:
    path = format_path(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{path}: {message}" if path else message


def format_path(loc: tuple[str | int, ...]) -> str:
    """``("phases", "P0", 1, "window")`` → ``phases.P0[1].window``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
