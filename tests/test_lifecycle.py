"""The incident state machine, pure: every status against every action."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warroom.errors import Conflict, InvalidTransition
from warroom.incidents.lifecycle import (
    OPEN_STATUSES,
    STATUSES,
    TRANSITIONS,
    Action,
    allowed_actions,
    is_open,
    next_status,
)

ACTIONS: tuple[Action, ...] = (
    "acknowledge",
    "mitigate",
    "resolve",
    "close",
    "reopen",
    "retrigger",
)

# The whole state machine, written out by hand: (from, action) -> to. Every pair not listed
# here must be refused.
ALLOWED: dict[tuple[str, Action], str] = {
    ("triggered", "acknowledge"): "acknowledged",
    ("triggered", "mitigate"): "mitigated",
    ("triggered", "resolve"): "resolved",
    ("acknowledged", "mitigate"): "mitigated",
    ("acknowledged", "resolve"): "resolved",
    ("mitigated", "resolve"): "resolved",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "triggered",
    ("closed", "reopen"): "triggered",
    ("mitigated", "retrigger"): "triggered",
}

ALL_PAIRS = list(itertools.product(STATUSES, ACTIONS))
ALLOWED_PAIRS = [pair for pair in ALL_PAIRS if pair in ALLOWED]
REFUSED_PAIRS = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def test_the_table_covers_the_module() -> None:
    assert STATUSES == ("triggered", "acknowledged", "mitigated", "resolved", "closed")
    assert tuple(TRANSITIONS) == ACTIONS
    assert len(ALLOWED_PAIRS) == len(ALLOWED) == 10
    assert len(REFUSED_PAIRS) == len(STATUSES) * len(ACTIONS) - 10


@pytest.mark.parametrize(("status", "action"), ALLOWED_PAIRS)
def test_allowed_transition(status: str, action: Action) -> None:
    assert next_status(status, action) == ALLOWED[(status, action)]


@pytest.mark.parametrize(("status", "action"), REFUSED_PAIRS)
def test_refused_transition_names_the_status(status: str, action: Action) -> None:
    with pytest.raises(InvalidTransition) as caught:
        next_status(status, action)
    error = caught.value
    assert isinstance(error, Conflict)
    assert f"is {status}" in error.message
    assert action in error.message
    # It also says where the action would have been allowed from.
    for source in sorted(s for (s, a) in ALLOWED if a == action):
        assert source in error.message.split("(only from", 1)[1]
    assert error.details == {"field": "status", "status": status, "action": action}


@pytest.mark.parametrize("action", ACTIONS)
def test_unknown_status_is_refused(action: Action) -> None:
    with pytest.raises(InvalidTransition, match="is bogus"):
        next_status("bogus", action)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("triggered", ["acknowledge", "mitigate", "resolve"]),
        ("acknowledged", ["mitigate", "resolve"]),
        ("mitigated", ["resolve", "retrigger"]),
        ("resolved", ["close", "reopen"]),
        ("closed", ["reopen"]),
        ("bogus", []),
    ],
)
def test_allowed_actions(status: str, expected: list[str]) -> None:
    assert allowed_actions(status) == expected


@pytest.mark.parametrize("status", STATUSES)
def test_allowed_actions_agree_with_next_status(status: str) -> None:
    assert allowed_actions(status) == [a for a in ACTIONS if (status, a) in ALLOWED]


@pytest.mark.parametrize("status", STATUSES)
def test_is_open(status: str) -> None:
    assert OPEN_STATUSES == ("triggered", "acknowledged", "mitigated")
    assert is_open(status) == (status in ("triggered", "acknowledged", "mitigated"))


@given(st.sampled_from(STATUSES), st.lists(st.sampled_from(ACTIONS), max_size=60))
def test_random_walks_stay_in_the_machine(start: str, actions: list[Action]) -> None:
    status = start
    for action in actions:
        assert (action in allowed_actions(status)) == ((status, action) in ALLOWED)
        try:
            after = next_status(status, action)
        except InvalidTransition:
            assert (status, action) not in ALLOWED
            continue
        assert after in STATUSES
        assert after == ALLOWED[(status, action)]
        if after == "closed":
            assert status == "resolved", f"closed reached from {status} by {action}"
        status = after
    assert status in STATUSES
