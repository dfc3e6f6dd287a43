"""Suggest a severity from the impact, by the playbook's ordered rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from warroom.playbook.schema import ImpactMatch, Playbook


class Impact(BaseModel):
    """What a responder knows about the impact."""

    outage: Literal["none", "partial", "complete"] = "none"
    breach: bool = False
    security: bool = False
    users_affected_percent: float = Field(default=0, ge=0, le=100)


def matches(rule: ImpactMatch, impact: Impact) -> bool:
    """Whether every condition the rule states holds for the impact."""
    checks = [
        rule.outage is None or rule.outage == impact.outage,
        rule.breach is None or rule.breach == impact.breach,
        rule.security is None or rule.security == impact.security,
        rule.users_affected_above is None
        or impact.users_affected_percent > rule.users_affected_above,
    ]
    return all(checks)


def suggest_severity(playbook: Playbook, impact: Impact) -> str:
    """The severity of the first matching rule, else the guide's ``otherwise``."""
    for rule in playbook.severity_guide.rules:
        if matches(rule.when, impact):
            return rule.severity
    return playbook.severity_guide.otherwise
