"""Load a playbook from YAML, naming the path of every bad field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from warroom.errors import PlaybookError
from warroom.playbook.checks import check_playbook
from warroom.playbook.schema import (
    Contact,
    IncidentType,
    Phase,
    Playbook,
    PostIncidentStage,
    Role,
    Runbook,
    RunbookLocation,
    Severity,
    Template,
)

ITEM_MODELS: dict[str, type[BaseModel]] = {
    "severities": Severity,
    "incident_types": IncidentType,
    "roles": Role,
    "templates": Template,
    "contacts": Contact,
    "runbooks": Runbook,
    "runbook_locations": RunbookLocation,
    "post_incident": PostIncidentStage,
}


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
        raise PlaybookError([f"cannot read the file: {exc.strerror}"]) from exc
    return parse_playbook(text)


def parse_playbook(text: str) -> Playbook:
    """Parse and validate playbook YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlaybookError([yaml_problem(exc)]) from exc
    if not isinstance(data, dict):
        raise PlaybookError(["(top): the playbook must be a mapping"])
    problems, clean, ghosts = _validate_items(data)
    try:
        playbook = Playbook.model_validate(clean)
    except ValidationError as exc:
        broken = {p.split("[", 1)[0].split(".", 1)[0] for p in problems}
        rest = [_describe(e) for e in exc.errors() if not e["loc"] or e["loc"][0] not in broken]
        raise PlaybookError(problems + rest) from exc
    problems += check_playbook(playbook, ghosts=ghosts)
    if problems:
        raise PlaybookError(problems)
    return playbook


def _validate_items(data: dict[str, Any]) -> tuple[list[str], dict[str, Any], dict[str, set[str]]]:
    """Check list items one by one, so one bad item does not hide the other problems.

    Returns the problems, the data without the bad items, and the keys of the bad items
    (so references to them are not reported a second time as unknown).
    """
    problems: list[str] = []
    clean = dict(data)
    ghosts: dict[str, set[str]] = {}
    for name, model in ITEM_MODELS.items():
        items = data.get(name)
        if isinstance(items, list):
            clean[name] = _keep_valid(name, items, model, problems, ghosts.setdefault(name, set()))
    sets = data.get("phases")
    if isinstance(sets, dict):
        clean["phases"] = {
            key: _keep_valid(
                f"phases.{key}", items, Phase, problems, ghosts.setdefault("phases", set())
            )
            if isinstance(items, list)
            else items
            for key, items in sets.items()
        }
    return problems, clean, ghosts


def _keep_valid(
    path: str, items: list[Any], model: type[BaseModel], problems: list[str], ghosts: set[str]
) -> list[Any]:
    kept = []
    for i, item in enumerate(items):
        try:
            kept.append(model.model_validate(item))
        except ValidationError as exc:
            problems += [_describe(e, prefix=f"{path}[{i}]") for e in exc.errors()]
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                ghosts.add(item["key"])
    return kept


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line saying where YAML text is broken and how."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}" if mark is not None else "yaml"
    return f"{where}: not valid YAML: {getattr(exc, 'problem', None) or 'cannot parse'}"


def _describe(error: Any, prefix: str = "") -> str:
    path = format_path(error["loc"])
    if prefix:
        path = prefix + (f".{path}" if path and not path.startswith("[") else path)
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
