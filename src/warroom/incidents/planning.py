"""Phase-clock arithmetic, pure: turn playbook phases into absolute deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from warroom.playbook.schema import Phase as PlaybookPhase
from warroom.playbook.schema import PostIncidentStage


@dataclass(frozen=True)
class PlannedTask:
    key: str
    title: str
    section: str
    runbook: str | None
    due_at: datetime | None


@dataclass(frozen=True)
class PlannedPhase:
    key: str
    name: str
    stage: str
    starts_at: datetime
    due_at: datetime | None
    tasks: tuple[PlannedTask, ...]


def plan_phase(
    phase: PlaybookPhase | PostIncidentStage, anchor: datetime, stage: str
) -> PlannedPhase:
    """A phase placed on the clock: its window measured from ``anchor``."""
    starts_at = anchor + phase.window.start
    due_at = anchor + phase.window.end if phase.window.end is not None else None
    tasks = tuple(
        PlannedTask(
            key=t.key,
            title=t.title,
            section=t.section,
            runbook=t.runbook,
            due_at=starts_at + t.due if t.due is not None else due_at,
        )
        for t in phase.tasks
    )
    return PlannedPhase(
        key=phase.key, name=phase.name, stage=stage, starts_at=starts_at, due_at=due_at, tasks=tasks
    )


def plan(phases: list[PlaybookPhase], anchor: datetime) -> list[PlannedPhase]:
    """The response phases of an incident declared (or re-planned) at ``anchor``."""
    return [plan_phase(p, anchor, "response") for p in phases]


@dataclass(frozen=True)
class Replan:
    """What a severity or type change does to the phases."""

    keep: tuple[str, ...]
    drop: tuple[str, ...]
    add: tuple[PlannedPhase, ...]


def replan(current: list[str], wanted: list[PlaybookPhase], anchor: datetime) -> Replan:
    """Keep phases both plans share (with their clocks), drop the rest, add the new ones.

    New phases start their clocks at ``anchor``, the moment of the change: raising P1 to
    P0 gives the team the P0 windows from then on.
    """
    wanted_keys = [p.key for p in wanted]
    keep = tuple(k for k in current if k in wanted_keys)
    drop = tuple(k for k in current if k not in wanted_keys)
    add = tuple(plan_phase(p, anchor, "response") for p in wanted if p.key not in current)
    return Replan(keep=keep, drop=drop, add=add)
