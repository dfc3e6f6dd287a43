"""Which incident an alert belongs to, and how severe: pure, from the playbook's routing."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from warroom.playbook.matchers import all_match, parse_matcher
from warroom.playbook.schema import AlertRoute, AlertRouting

DEFAULT_ROUTE = "default"


@dataclass(frozen=True)
class Decision:
    route: str
    severity: str | None  # None: record the alert, open no incident
    type: str
    group_key: str
    auto_resolve: bool
    escalation: str | None


def first_route(routing: AlertRouting, labels: dict[str, str]) -> AlertRoute | None:
    for route in routing.routes:
        if all_match([parse_matcher(m) for m in route.matchers], labels):
            return route
    return None


def route_and_group(
    routing: AlertRouting, labels: dict[str, str], fingerprint: str = ""
) -> tuple[AlertRoute | None, str]:
    """The alert's route (None: the default) and group key: all that ``decide`` needs to
    tell an alert's group, without its severity."""
    route = first_route(routing, labels)
    group_by = route.group_by if route and route.group_by is not None else routing.group_by
    name = route.name if route else DEFAULT_ROUTE
    group = ",".join(f"{key}={labels.get(key, '')}" for key in group_by)
    if not any(labels.get(key) for key in group_by):  # nothing to group by: alone
        group = f"fingerprint={fingerprint}"
    return route, f"{name}:{group}"


def decide(
    routing: AlertRouting, labels: dict[str, str], severities: Container[str], fingerprint: str = ""
) -> Decision:
    """Route, severity, type and group of an alert with these labels. An alert carrying
    none of the group-by labels (a PagerDuty event, say) is a group of its own.

    Severity: an explicit playbook severity label (``severity: P0``) wins; then the
    route's fixed severity; then the severity label's mapping (critical, error, warning,
    info); then the default.
    """
    route, group = route_and_group(routing, labels, fingerprint)
    label = labels.get("severity", "")
    if label in severities:
        severity: str | None = label
    elif route is not None and route.severity is not None:
        severity = route.severity
    elif label.lower() in routing.severity_labels:
        severity = routing.severity_labels[label.lower()]
    else:
        severity = routing.default_severity
    if severity is not None and severity not in severities:  # a default the playbook lacks
        severity = routing.default_severity if routing.default_severity in severities else None
    return Decision(
        route=route.name if route else DEFAULT_ROUTE,
        severity=severity,
        type=(route.type if route and route.type else routing.default_type),
        group_key=group,
        auto_resolve=(
            route.auto_resolve if route and route.auto_resolve is not None else routing.auto_resolve
        ),
        escalation=route.escalation if route else None,
    )
