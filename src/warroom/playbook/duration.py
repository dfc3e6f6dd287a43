"""Human durations in the playbook: ``30s``, ``15m``, ``24h``, ``7d``, ``4w``, or ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"(?:\d+[wdhms])+")


def parse_duration(value: Any) -> timedelta:
    """A non-negative timedelta from ``15m``-style text, seconds, or a timedelta."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 24h or 7d")
    try:
        result = _to_timedelta(value)
    except OverflowError:
        raise ValueError(f"{value!r} is out of range") from None
    if result < timedelta(0):
        raise ValueError(f"{value!r} is negative")
    return result


def _to_timedelta(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        if value != value:  # NaN
            raise ValueError("NaN is not a duration")
        return timedelta(seconds=value)
    text = str(value).strip().replace(" ", "")
    if text == "0":
        return timedelta(0)
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"{value!r} is not a duration such as 15m, 24h or 7d")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))


def format_duration(value: timedelta) -> str:
    """The shortest ``1h30m``-style text for a timedelta."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0m"
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
