"""The domain exception tree, mapped to HTTP statuses and CLI exit codes at the edges.

WarroomError                 500  exit 1
├── NotFound                 404  exit 3
├── InvalidInput             422  exit 2   (a field is wrong: ``field`` names it)
├── Conflict                 409  exit 4
│   └── InvalidTransition    409  exit 4
├── Unauthorized             401  exit 5
├── Forbidden                403  exit 5
├── PlaybookError            422  exit 2   (``problems`` lists every bad field path)
├── ChannelsError            422  exit 2   (the channels file; ``problems`` likewise)
└── DatabaseNotReady         503  exit 6   (schema not current: run warroom db upgrade)
"""

from __future__ import annotations

from typing import Any, ClassVar


class WarroomError(Exception):
    """Base of every error warroom raises on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(WarroomError):
    code = "not_found"
    http_status = 404
    exit_code = 3


class InvalidInput(WarroomError):
    code = "invalid_input"
    http_status = 422
    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", details={"field": field})
        self.field = field


class Conflict(WarroomError):
    code = "conflict"
    http_status = 409
    exit_code = 4


class InvalidTransition(Conflict):
    code = "invalid_transition"


class Unauthorized(WarroomError):
    code = "unauthorized"
    http_status = 401
    exit_code = 5


class Forbidden(WarroomError):
    code = "forbidden"
    http_status = 403
    exit_code = 5


class ChannelsError(WarroomError):
    """The channels file (WARROOM_CHANNELS_FILE) is unreadable or invalid."""

    code = "invalid_channels"
    http_status = 422
    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), details={"problems": problems})
        self.problems = problems


class PlaybookError(WarroomError):
    code = "invalid_playbook"
    http_status = 422
    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), details={"problems": problems})
        self.problems = problems


class DatabaseNotReady(WarroomError):
    code = "database_not_ready"
    http_status = 503
    exit_code = 6
