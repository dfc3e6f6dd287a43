"""Who is on call when: rotation arithmetic, layers and overrides. Pure (no I/O, no clock).

Shifts of daily and weekly rotations follow the wall clock of the schedule's time zone: a
daily hand-off at 09:00 in Europe/Berlin happens at 09:00 local on every day, so the shift
across a daylight-saving change lasts 23 or 25 hours. Hourly rotations count real hours. A
hand-off time that does not exist on a day (the clocks jumped over it) falls at the same
offset as before the jump, i.e. an hour later by the new clock; one that exists twice
falls at the first.

Layers stack: at any instant the last listed layer that has someone decides (a layer has
no one before its start date or outside its restriction windows). An override puts its
person on call instead of everyone, or, with ``replaces``, instead of that one person.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

P = TypeVar("P", bound=Hashable)  # whoever is on call: a person id, a name
Unit = Literal["hourly", "daily", "weekly"]
MAX_SPANS = 10_000


@dataclass(frozen=True)
class Window:
    """Local times on some weekdays (0 = Monday); ``end`` at or before ``start`` runs past
    midnight into the next day."""

    days: frozenset[int]
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= clock < self.end
        if local.weekday() in self.days and clock >= self.start:
            return True
        return (local.weekday() - 1) % 7 in self.days and clock < self.end


@dataclass(frozen=True)
class Layer(Generic[P]):
    name: str
    unit: Unit
    every: int
    handoff: time
    start: date  # the first shift starts on this local date (weekly: the next handoff_day)
    participants: tuple[P, ...]
    handoff_day: int = 0  # weekly rotations: the weekday of the hand-off (0 = Monday)
    restrict: tuple[Window, ...] = ()


@dataclass(frozen=True)
class Override(Generic[P]):
    start: datetime
    end: datetime
    person: P
    replaces: P | None = None


@dataclass(frozen=True)
class Shift(Generic[P]):
    layer: str
    index: int
    person: P
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Span(Generic[P]):
    """A stretch of time with the same people on call; none at all is a gap."""

    start: datetime
    end: datetime
    people: tuple[P, ...]
    source: str  # the layer that decided, "override", or "" for a gap


@dataclass(frozen=True)
class Schedule(Generic[P]):
    zone: ZoneInfo
    layers: tuple[Layer[P], ...]
    overrides: tuple[Override[P], ...] = field(default=())


def localize(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (see the module's note on gaps)."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone).astimezone(UTC)


def _anchor(layer: Layer[P]) -> date:
    if layer.unit != "weekly":
        return layer.start
    return layer.start + timedelta(days=(layer.handoff_day - layer.start.weekday()) % 7)


def boundary(layer: Layer[P], zone: ZoneInfo, index: int) -> datetime:
    """When shift ``index`` of the layer starts."""
    anchor = _anchor(layer)
    if layer.unit == "hourly":
        return localize(anchor, layer.handoff, zone) + timedelta(hours=layer.every * index)
    step = layer.every * (7 if layer.unit == "weekly" else 1)
    return localize(anchor + timedelta(days=step * index), layer.handoff, zone)


def shift_index(layer: Layer[P], zone: ZoneInfo, at: datetime) -> int:
    """The index of the shift running at ``at`` (negative: before the layer starts)."""
    anchor = _anchor(layer)
    if layer.unit == "hourly":
        first = localize(anchor, layer.handoff, zone)
        return int((at - first) // timedelta(hours=layer.every))
    step = layer.every * (7 if layer.unit == "weekly" else 1)
    index = (at.astimezone(zone).date() - anchor).days // step
    while boundary(layer, zone, index) > at:  # the wall-clock estimate, made exact
        index -= 1
    while boundary(layer, zone, index + 1) <= at:
        index += 1
    return index


def shift_at(layer: Layer[P], zone: ZoneInfo, at: datetime) -> Shift[P] | None:
    """The layer's shift at ``at``, ignoring restrictions; None before the layer starts."""
    if not layer.participants:
        return None
    index = shift_index(layer, zone, at)
    if index < 0:
        return None
    return Shift(
        layer=layer.name,
        index=index,
        person=layer.participants[index % len(layer.participants)],
        start=boundary(layer, zone, index),
        end=boundary(layer, zone, index + 1),
    )


def _layer_person(layer: Layer[P], zone: ZoneInfo, at: datetime) -> P | None:
    shift = shift_at(layer, zone, at)
    if shift is None:
        return None
    if layer.restrict and not any(w.contains(at.astimezone(zone)) for w in layer.restrict):
        return None
    return shift.person


def on_call(schedule: Schedule[P], at: datetime) -> tuple[tuple[P, ...], str]:
    """Who is on call at ``at``, and what decided it (a layer's name, "override", or "")."""
    people: tuple[P, ...] = ()
    source = ""
    for layer in reversed(schedule.layers):
        person = _layer_person(layer, schedule.zone, at)
        if person is not None:
            people, source = (person,), layer.name
            break
    for override in schedule.overrides:
        if not override.start <= at < override.end:
            continue
        if override.replaces is None:
            people, source = (override.person,), "override"
        elif override.replaces in people:
            people = tuple(override.person if p == override.replaces else p for p in people)
            source = "override"
    return people, source


def _changes(schedule: Schedule[P], start: datetime, end: datetime) -> list[datetime]:
    """Every instant in [start, end) where who is on call may change."""
    points = {start}
    zone = schedule.zone
    for layer in schedule.layers:
        index = max(shift_index(layer, zone, start), 0)
        while (moment := boundary(layer, zone, index)) < end:
            points.add(moment)
            index += 1
            if len(points) > MAX_SPANS:
                raise ValueError("too many shifts in the range asked for")
        if layer.restrict:
            day = start.astimezone(zone).date() - timedelta(days=1)
            while day <= end.astimezone(zone).date():
                for window in layer.restrict:
                    points.add(localize(day, window.start, zone))
                    points.add(localize(day, window.end, zone))
                    if window.end <= window.start:
                        points.add(localize(day + timedelta(days=1), window.end, zone))
                day += timedelta(days=1)
                if len(points) > MAX_SPANS:
                    raise ValueError("too many shifts in the range asked for")
    for override in schedule.overrides:
        points.update((override.start, override.end))
    return sorted(p for p in points if start <= p < end)


def spans(schedule: Schedule[P], start: datetime, end: datetime) -> list[Span[P]]:
    """Who is on call over [start, end), as consecutive spans (gaps included)."""
    result: list[Span[P]] = []
    points = _changes(schedule, start, end)
    for i, moment in enumerate(points):
        until = points[i + 1] if i + 1 < len(points) else end
        people, source = on_call(schedule, moment)
        if result and result[-1].people == people and result[-1].source == source:
            last = result[-1]
            result[-1] = Span(last.start, until, people, source)
        else:
            result.append(Span(moment, until, people, source))
    return result


def gaps(schedule: Schedule[P], start: datetime, end: datetime) -> list[Span[P]]:
    return [span for span in spans(schedule, start, end) if not span.people]


def overlapping(overrides: Sequence[Override[P]]) -> tuple[Override[P], Override[P]] | None:
    """Two overrides that cover the same time and the same person they replace, if any."""
    ordered = sorted(overrides, key=lambda o: o.start)
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if second.start >= first.end:
                break
            if first.replaces == second.replaces:
                return first, second
    return None
