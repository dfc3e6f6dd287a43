"""Cross-reference checks a schema cannot express; each problem names its field path."""

from __future__ import annotations

from collections.abc import Iterable

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from warroom.playbook.matchers import parse_matcher
from warroom.playbook.schema import Phase, Playbook, Task


def check_playbook(playbook: Playbook, ghosts: dict[str, set[str]] | None = None) -> list[str]:
    """Every cross-reference problem of a schema-valid playbook, as ``path: message``.

    ``ghosts`` are keys of items already reported as invalid; references to them pass.
    """
    ghosts = ghosts or {}
    severities = {s.key for s in playbook.severities}
    types = {t.key for t in playbook.incident_types}
    runbooks = {r.key for r in playbook.runbooks} | ghosts.get("runbooks", set())
    known_severities = severities | ghosts.get("severities", set())
    known_types = types | ghosts.get("incident_types", set())
    problems: list[str] = []
    problems += _duplicates("severities", (s.key for s in playbook.severities))
    problems += _duplicates("incident_types", (t.key for t in playbook.incident_types))
    problems += _duplicates("roles", (r.key for r in playbook.roles))
    problems += _duplicates("templates", (t.key for t in playbook.templates))
    problems += _duplicates("contacts", (c.key for c in playbook.contacts))
    problems += _duplicates("runbooks", (r.key for r in playbook.runbooks))
    problems += _duplicates("post_incident", (p.key for p in playbook.post_incident))
    all_phases = [
        (f"phases.{name}[{i}]", p) for name, ps in playbook.phases.items() for i, p in enumerate(ps)
    ]
    problems += _duplicate_paths(all_phases)
    for path, phase in all_phases:
        problems += _check_tasks(path, phase.tasks, runbooks)
    for i, stage in enumerate(playbook.post_incident):
        problems += _check_tasks(f"post_incident[{i}]", stage.tasks, runbooks)
    for i, rule in enumerate(playbook.severity_guide.rules):
        if rule.severity not in known_severities:
            problems.append(
                f"severity_guide.rules[{i}].severity: unknown severity {rule.severity!r}"
            )
    if playbook.severity_guide.otherwise not in known_severities:
        problems.append("severity_guide.otherwise: unknown severity")
    for i, role in enumerate(playbook.roles):
        problems += [
            f"roles[{i}].required_for: unknown incident type {t!r}"
            for t in role.required_for
            if t not in known_types
        ]
    commander = playbook.commander_role
    if playbook.role(commander) is None and commander not in ghosts.get("roles", set()):
        problems.append(f"commander_role: unknown role {playbook.commander_role!r}")
    problems += _check_plans(playbook, severities, types, ghosts)
    problems += _check_templates(playbook)
    if "alert_routing" in playbook.model_fields_set:  # the built-in defaults bend instead
        problems += _check_alert_routing(playbook, known_severities, known_types)
    return problems


def _check_alert_routing(playbook: Playbook, severities: set[str], types: set[str]) -> list[str]:
    routing = playbook.alert_routing
    problems = [
        f"alert_routing.severity_labels.{label}: unknown severity {value!r}"
        for label, value in routing.severity_labels.items()
        if value is not None and value not in severities
    ]
    if routing.default_severity is not None and routing.default_severity not in severities:
        problems.append("alert_routing.default_severity: unknown severity")
    if routing.default_type not in types:
        problems.append("alert_routing.default_type: unknown incident type")
    for i, route in enumerate(routing.routes):
        path = f"alert_routing.routes[{i}]"
        if route.severity is not None and route.severity not in severities:
            problems.append(f"{path}.severity: unknown severity {route.severity!r}")
        if route.type is not None and route.type not in types:
            problems.append(f"{path}.type: unknown incident type {route.type!r}")
        for j, text in enumerate(route.matchers):
            try:
                parse_matcher(text)
            except ValueError as exc:
                problems.append(f"{path}.matchers[{j}]: {exc}")
    problems += _duplicates("alert_routing.routes", (r.name for r in routing.routes))
    return problems


def _duplicates(path: str, keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, key in enumerate(keys):
        if key in seen:
            problems.append(f"{path}[{i}].key: duplicate key {key!r}")
        seen.add(key)
    return problems


def _duplicate_paths(phases: list[tuple[str, Phase]]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for path, phase in phases:
        if phase.key in seen:
            problems.append(f"{path}.key: duplicate phase key {phase.key!r}")
        seen.add(phase.key)
    return problems


def _check_tasks(path: str, tasks: list[Task], runbooks: set[str]) -> list[str]:
    problems = _duplicates(f"{path}.tasks", (t.key for t in tasks))
    for i, task in enumerate(tasks):
        if task.runbook is not None and task.runbook not in runbooks:
            problems.append(f"{path}.tasks[{i}].runbook: unknown runbook {task.runbook!r}")
    return problems


def _check_plans(
    playbook: Playbook, severities: set[str], types: set[str], ghosts: dict[str, set[str]]
) -> list[str]:
    problems = []
    for type_key in types - playbook.plans.keys():
        problems.append(f"plans: no plan for incident type {type_key!r}")
    for type_key, by_severity in playbook.plans.items():
        if type_key not in types | ghosts.get("incident_types", set()):
            problems.append(f"plans.{type_key}: unknown incident type")
            continue
        for severity in severities - by_severity.keys():
            problems.append(f"plans.{type_key}: no phases for severity {severity!r}")
        for severity, sets in by_severity.items():
            if severity not in severities | ghosts.get("severities", set()):
                problems.append(f"plans.{type_key}.{severity}: unknown severity")
            for i, name in enumerate(sets):
                if name not in playbook.phases:
                    problems.append(f"plans.{type_key}.{severity}[{i}]: unknown phase set {name!r}")
    return problems


def _check_templates(playbook: Playbook) -> list[str]:
    env = SandboxedEnvironment()
    problems = []
    for i, template in enumerate(playbook.templates):
        for field, text in (("subject", template.subject), ("body", template.body)):
            if text is None:
                continue
            try:
                env.parse(text)
            except TemplateSyntaxError as exc:
                problems.append(f"templates[{i}].{field}: line {exc.lineno}: {exc.message}")
    return problems
