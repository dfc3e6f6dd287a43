"""Every table, imported so ``Base.metadata`` is complete (for migrations and tests)."""

from warroom.alerts.models import Alert, Integration, Silence
from warroom.auth.models import ApiToken
from warroom.db import Base
from warroom.incidents.models import (
    IdempotencyKey,
    Incident,
    Phase,
    RoleAssignment,
    Task,
    TimelineEntry,
)
from warroom.jobs.models import Job
from warroom.notify.models import Delivery
from warroom.oncall.models import Schedule, ScheduleOverride
from warroom.paging.models import Escalation, EscalationPolicy
from warroom.people.models import Person

__all__ = [
    "Alert",
    "ApiToken",
    "Base",
    "Delivery",
    "Escalation",
    "EscalationPolicy",
    "IdempotencyKey",
    "Incident",
    "Integration",
    "Job",
    "Person",
    "Phase",
    "RoleAssignment",
    "Schedule",
    "ScheduleOverride",
    "Silence",
    "Task",
    "TimelineEntry",
]
