"""The playbook schema. Field-level rules live here; cross-references in ``checks.py``."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from warroom.playbook.duration import Duration

Key = str  # validated by KEY_PATTERN where declared
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Strict(BaseModel):
    """A playbook part: unknown fields are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    criteria: list[str] = Field(min_length=1)
    update_every: Duration = Field(description="How often stakeholders get an update.")


class ImpactMatch(Strict):
    """Conditions on the impact; all given ones must hold."""

    outage: Literal["none", "partial", "complete"] | None = None
    breach: bool | None = None
    security: bool | None = None
    users_affected_above: float | None = Field(default=None, ge=0, le=100)


class SeverityRule(Strict):
    when: ImpactMatch
    severity: str


class SeverityGuide(Strict):
    rules: list[SeverityRule] = Field(min_length=1)
    otherwise: str


class IncidentType(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""


class Role(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    team: Literal["core", "extended"]
    held_by: str = Field(default="", description="Who usually holds it, e.g. DevOps Lead.")
    required_for: list[str] = Field(default_factory=list)
    schedule: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The on-call schedule that fills the role (by name): whoever is on call "
        "when an incident that needs the role is declared, or when the role is paged.",
    )


class Task(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1)
    section: str = ""
    runbook: str | None = None
    due: Duration | None = Field(default=None, description="Own deadline after phase start.")


class Window(Strict):
    start: Duration
    end: Duration | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> Window:
        if self.start < timedelta(0):
            raise ValueError("start before 0")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end before start")
        return self


class Phase(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    window: Window
    tasks: list[Task] = Field(default_factory=list)


class Template(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    audience: Literal["internal", "customers", "stakeholders"]
    subject: str | None = None
    body: str = Field(min_length=1)


class Contact(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    group: Literal["internal", "external"]
    phone: str | None = None
    email: str | None = None
    url: str | None = None
    note: str = ""


class RunbookStep(Strict):
    kind: Literal["command", "manual"] = "command"
    run: str = Field(min_length=1)
    description: str = ""
    dangerous: bool = False


class Runbook(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""
    steps: list[RunbookStep] = Field(min_length=1)


class RunbookLocation(Strict):
    kind: Literal["digital", "printed", "cloud"]
    location: str = Field(min_length=1)


class PostIncidentStage(Strict):
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    window: Window
    tasks: list[Task] = Field(min_length=1)


class AlertRoute(Strict):
    """Alerts whose labels match go here (the first matching route wins)."""

    name: str = Field(pattern=KEY_PATTERN)
    matchers: list[str] = Field(default_factory=list, description="name=value, =~, !=, !~")
    group_by: list[str] | None = None
    severity: str | None = Field(default=None, description="Fixed severity for this route.")
    type: str | None = None
    escalation: str | None = Field(default=None, description="Escalation policy name.")
    auto_resolve: bool | None = None


class AlertRouting(Strict):
    """How inbound alerts become incidents."""

    group_by: list[str] = Field(default_factory=lambda: ["alertname", "service"])
    severity_labels: dict[str, str | None] = Field(
        default_factory=lambda: {"critical": "P1", "error": "P2", "warning": "P3", "info": None},
        description="severity label value → incident severity; null records without paging.",
    )
    default_severity: str | None = "P3"
    default_type: str = "operational"
    auto_resolve: bool = False
    flap_window: Duration = Field(default=timedelta(minutes=30))
    routes: list[AlertRoute] = Field(default_factory=list)


class Playbook(Strict):
    """A whole playbook, as loaded from YAML."""

    version: Literal[1] = 1
    name: str = Field(min_length=1)
    severities: list[Severity] = Field(min_length=1)
    severity_guide: SeverityGuide
    incident_types: list[IncidentType] = Field(min_length=1)
    roles: list[Role] = Field(min_length=1)
    phases: dict[str, list[Phase]] = Field(min_length=1)
    plans: dict[str, dict[str, list[str]]] = Field(
        description="incident type → severity → the phase sets it runs."
    )
    templates: list[Template] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
    runbooks: list[Runbook] = Field(default_factory=list)
    runbook_locations: list[RunbookLocation] = Field(default_factory=list)
    post_incident: list[PostIncidentStage] = Field(default_factory=list)
    alert_routing: AlertRouting = Field(default_factory=AlertRouting)
    commander_role: str = Field(
        default="incident-commander", description="The role told when a deadline passes."
    )

    def severity(self, key: str) -> Severity | None:
        return next((s for s in self.severities if s.key == key), None)

    def role(self, key: str) -> Role | None:
        return next((r for r in self.roles if r.key == key), None)

    def incident_type(self, key: str) -> IncidentType | None:
        return next((t for t in self.incident_types if t.key == key), None)

    def phases_for(self, incident_type: str, severity: str) -> list[Phase]:
        """The phases an incident of this type and severity runs, in playbook order."""
        sets = self.plans.get(incident_type, {}).get(severity, [])
        return [phase for name in sets for phase in self.phases[name]]

    def required_roles(self, incident_type: str) -> list[Role]:
        return [r for r in self.roles if incident_type in r.required_for]
