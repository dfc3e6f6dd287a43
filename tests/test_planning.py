"""Phase-clock arithmetic, pure: playbook windows turned into absolute deadlines."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warroom.incidents.planning import PlannedPhase, plan, plan_phase, replan
from warroom.playbook.loader import load_playbook
from warroom.playbook.schema import Phase, Playbook

ANCHOR = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)


@functools.cache
def default_playbook() -> Playbook:
    return load_playbook()


@pytest.fixture
def playbook() -> Playbook:
    return default_playbook()


def windows(planned: list[PlannedPhase], anchor: datetime) -> list[tuple[str, object, object]]:
    """(key, start offset, due offset) of each planned phase, relative to ``anchor``."""
    return [
        (p.key, p.starts_at - anchor, p.due_at - anchor if p.due_at is not None else None)
        for p in planned
    ]


def test_p0_plan(playbook: Playbook) -> None:
    planned = plan(playbook.phases_for("operational", "P0"), ANCHOR)
    assert windows(planned, ANCHOR) == [
        ("p0-immediate-response", 0 * M, 15 * M),
        ("p0-assessment", 15 * M, 30 * M),
        ("p0-recovery", 30 * M, None),
    ]
    assert [p.stage for p in planned] == ["response"] * 3
    recovery = planned[2]
    assert recovery.tasks, "the recovery phase has its checklist"
    assert all(t.due_at is None for t in recovery.tasks), "an open window has no task deadlines"
    assert all(t.due_at == ANCHOR + 15 * M for t in planned[0].tasks)
    assert all(t.due_at == ANCHOR + 30 * M for t in planned[1].tasks)


def test_p1_plan(playbook: Playbook) -> None:
    planned = plan(playbook.phases_for("operational", "P1"), ANCHOR)
    assert windows(planned, ANCHOR) == [
        ("p1-assessment", 0 * M, 15 * M),
        ("p1-mitigation", 15 * M, 45 * M),
        ("p1-resolution", 45 * M, 60 * M),
    ]
    for phase in planned:
        assert phase.tasks
        assert all(t.due_at == phase.due_at for t in phase.tasks)


def test_security_plan(playbook: Playbook) -> None:
    security = [
        ("security-containment", 0 * M, 30 * M),
        ("security-investigation", 30 * M, 24 * H),
        ("security-recovery-notification", 24 * H, 72 * H),
    ]
    p0 = plan(playbook.phases_for("security", "P0"), ANCHOR)
    assert windows(p0, ANCHOR)[3:] == security
    assert [k for k, _, _ in windows(p0, ANCHOR)[:3]] == [
        "p0-immediate-response",
        "p0-assessment",
        "p0-recovery",
    ]
    p1 = plan(playbook.phases_for("security", "P1"), ANCHOR)
    assert windows(p1, ANCHOR) == security


def test_planned_tasks_copy_the_playbook(playbook: Playbook) -> None:
    phases = playbook.phases_for("operational", "P0")
    for source, planned in zip(phases, plan(phases, ANCHOR), strict=True):
        assert planned.name == source.name
        assert [(t.key, t.title, t.section, t.runbook) for t in planned.tasks] == [
            (t.key, t.title, t.section, t.runbook) for t in source.tasks
        ]


def make_phase(key: str, start: str, end: str | None, tasks: list[dict[str, str]]) -> Phase:
    window = {"start": start} if end is None else {"start": start, "end": end}
    return Phase.model_validate({"key": key, "name": key.title(), "window": window, "tasks": tasks})


def test_task_due_defaults_to_the_phase_due() -> None:
    phase = make_phase("x", "10m", "1h", [{"key": "a", "title": "A"}])
    planned = plan_phase(phase, ANCHOR, "response")
    assert planned.starts_at == ANCHOR + 10 * M
    assert planned.due_at == ANCHOR + H
    assert planned.tasks[0].due_at == ANCHOR + H


def test_task_with_its_own_due_counts_from_the_phase_start() -> None:
    phase = make_phase(
        "x",
        "10m",
        "1h",
        [{"key": "a", "title": "A", "due": "5m"}, {"key": "b", "title": "B"}],
    )
    planned = plan_phase(phase, ANCHOR, "response")
    assert [t.due_at for t in planned.tasks] == [ANCHOR + 15 * M, ANCHOR + H]


def test_task_with_its_own_due_in_an_open_phase() -> None:
    phase = make_phase(
        "x", "30m", None, [{"key": "a", "title": "A", "due": "2h"}, {"key": "b", "title": "B"}]
    )
    planned = plan_phase(phase, ANCHOR, "response")
    assert planned.due_at is None
    assert [t.due_at for t in planned.tasks] == [ANCHOR + 30 * M + 2 * H, None]


def test_post_incident_stage(playbook: Playbook) -> None:
    planned = [plan_phase(s, ANCHOR, "post_incident") for s in playbook.post_incident]
    assert windows(planned, ANCHOR) == [
        ("immediate", 0 * H, 24 * H),
        ("short-term", timedelta(days=1), timedelta(days=7)),
        ("long-term", timedelta(weeks=1), timedelta(weeks=4)),
    ]
    assert {p.stage for p in planned} == {"post_incident"}


@given(
    anchor=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    severity=st.sampled_from(["P0", "P1", "P2", "P3"]),
    type_=st.sampled_from(["operational", "security"]),
)
def test_plan_is_the_windows_shifted_by_the_anchor(
    anchor: datetime, severity: str, type_: str
) -> None:
    phases = default_playbook().phases_for(type_, severity)
    planned = plan(phases, anchor)
    assert [p.key for p in planned] == [p.key for p in phases]
    for source, placed in zip(phases, planned, strict=True):
        assert placed.starts_at - anchor == source.window.start
        end = source.window.end
        assert placed.due_at == (anchor + end if end is not None else None)
        if placed.due_at is not None:
            assert placed.due_at > placed.starts_at


# --- replan --------------------------------------------------------------------------------

P1_KEYS = ["p1-assessment", "p1-mitigation", "p1-resolution"]
P0_KEYS = ["p0-immediate-response", "p0-assessment", "p0-recovery"]
SECURITY_KEYS = ["security-containment", "security-investigation", "security-recovery-notification"]


def test_replan_p1_to_p0_drops_p1_and_adds_p0_from_the_change(playbook: Playbook) -> None:
    change_at = ANCHOR + 7 * M
    result = replan(P1_KEYS, playbook.phases_for("operational", "P0"), change_at)
    assert result.keep == ()
    assert result.drop == tuple(P1_KEYS)
    assert windows(list(result.add), change_at) == [
        ("p0-immediate-response", 0 * M, 15 * M),
        ("p0-assessment", 15 * M, 30 * M),
        ("p0-recovery", 30 * M, None),
    ]
    assert {p.stage for p in result.add} == {"response"}


def test_replan_operational_to_security_keeps_shared_phases(playbook: Playbook) -> None:
    change_at = ANCHOR + 2 * H
    result = replan(P0_KEYS, playbook.phases_for("security", "P0"), change_at)
    assert result.keep == tuple(P0_KEYS)
    assert result.drop == ()
    assert [p.key for p in result.add] == SECURITY_KEYS
    assert result.add[0].starts_at == change_at
    assert result.add[0].due_at == change_at + 30 * M


def test_replan_security_p0_to_p1_drops_the_p0_track(playbook: Playbook) -> None:
    result = replan(P0_KEYS + SECURITY_KEYS, playbook.phases_for("security", "P1"), ANCHOR)
    assert result.keep == tuple(SECURITY_KEYS)
    assert result.drop == tuple(P0_KEYS)
    assert result.add == ()


def test_replan_to_the_same_plan_changes_nothing(playbook: Playbook) -> None:
    result = replan(P1_KEYS, playbook.phases_for("operational", "P1"), ANCHOR + H)
    assert result == type(result)(keep=tuple(P1_KEYS), drop=(), add=())


def test_replan_keeps_current_order_and_ignores_unknown_current(playbook: Playbook) -> None:
    current = ["p1-resolution", "custom-phase", "p1-assessment"]
    result = replan(current, playbook.phases_for("operational", "P1"), ANCHOR)
    assert result.keep == ("p1-resolution", "p1-assessment")
    assert result.drop == ("custom-phase",)
    assert [p.key for p in result.add] == ["p1-mitigation"]
    assert result.add[0].starts_at == ANCHOR + 15 * M
