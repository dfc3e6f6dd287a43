"""Every table, imported so ``Base.metadata`` is complete (for migrations and tests)."""

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
from warroom.people.models import Person

__all__ = [
    "ApiToken",
    "Base",
    "Delivery",
    "IdempotencyKey",
    "Incident",
    "Job",
    "Person",
    "Phase",
    "RoleAssignment",
    "Task",
    "TimelineEntry",
]
