"""The incident state machine, pure.

triggered ──ack──► acknowledged ──mitigate──► mitigated ──resolve──► resolved ──close──► closed
    │                   │                                  ▲            │                 │
    └──────mitigate─────┴──────────resolve─────────────────┘            └─────reopen──────┘
                                                                          (→ triggered)
"""

from __future__ import annotations

from typing import Literal

from warroom.errors import InvalidTransition

Status = Literal["triggered", "acknowledged", "mitigated", "resolved", "closed"]
Action = Literal["acknowledge", "mitigate", "resolve", "close", "reopen", "retrigger"]

STATUSES: tuple[Status, ...] = ("triggered", "acknowledged", "mitigated", "resolved", "closed")
OPEN_STATUSES: tuple[Status, ...] = ("triggered", "acknowledged", "mitigated")

TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    "acknowledge": (frozenset({"triggered"}), "acknowledged"),
    "mitigate": (frozenset({"triggered", "acknowledged"}), "mitigated"),
    "resolve": (frozenset({"triggered", "acknowledged", "mitigated"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "reopen": (frozenset({"resolved", "closed"}), "triggered"),
    "retrigger": (frozenset({"mitigated"}), "triggered"),
}


def next_status(current: str, action: Action) -> Status:
    """The status after ``action``, or InvalidTransition naming what is allowed."""
    allowed_from, target = TRANSITIONS[action]
    if current not in allowed_from:
        allowed = ", ".join(sorted(allowed_from))
        raise InvalidTransition(
            f"cannot {action} an incident that is {current} (only from {allowed})",
            details={"field": "status", "status": current, "action": action},
        )
    return target


def allowed_actions(current: str) -> list[Action]:
    """The actions possible from ``current``, in lifecycle order."""
    return [action for action, (sources, _) in TRANSITIONS.items() if current in sources]


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES
