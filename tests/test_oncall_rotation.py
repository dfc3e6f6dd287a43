"""Rotation arithmetic, layers and overrides: pure, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.oncall.rotation import (
    Layer,
    Override,
    Schedule,
    Window,
    gaps,
    on_call,
    overlapping,
    shift_at,
    spans,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(5))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def daily(
    start: date, handoff: time = time(9), people: tuple[str, ...] = ("a", "b", "c")
) -> Layer[str]:
    return Layer("primary", "daily", 1, handoff, start, people)


def test_a_daily_shift_across_the_spring_change_in_berlin_lasts_23_hours() -> None:
    layer = daily(date(2027, 3, 25))  # clocks go forward on Sunday 2027-03-28, 02:00 -> 03:00
    shift = shift_at(layer, BERLIN, utc(2027, 3, 27, 12))
    assert shift is not None
    assert (shift.person, shift.start, shift.end) == ("c", utc(2027, 3, 27, 8), utc(2027, 3, 28, 7))
    assert shift.end - shift.start == timedelta(hours=23)
    schedule = Schedule(BERLIN, (layer,))
    assert on_call(schedule, utc(2027, 3, 28, 6, 59)) == (("c",), "primary")
    assert on_call(schedule, utc(2027, 3, 28, 7)) == (("a",), "primary")  # 09:00 CEST


def test_a_daily_shift_across_the_autumn_change_in_berlin_lasts_25_hours() -> None:
    layer = daily(date(2027, 10, 29))  # clocks go back on Sunday 2027-10-31, 03:00 -> 02:00
    shift = shift_at(layer, BERLIN, utc(2027, 10, 30, 20))
    assert shift is not None
    assert (shift.start, shift.end) == (utc(2027, 10, 30, 7), utc(2027, 10, 31, 8))
    assert shift.end - shift.start == timedelta(hours=25)


def test_a_weekly_rotation_in_new_york_hands_off_at_10_local_either_side_of_dst() -> None:
    layer = Layer("week", "weekly", 1, time(10), date(2027, 3, 1), ("ann", "bo"), handoff_day=0)
    before = shift_at(layer, NEW_YORK, utc(2027, 3, 10, 12))  # DST starts Sunday 2027-03-14
    assert before is not None
    assert (before.person, before.start, before.end) == (
        "bo",
        utc(2027, 3, 8, 15),  # Monday 10:00 EST
        utc(2027, 3, 15, 14),  # Monday 10:00 EDT
    )
    assert before.end - before.start == timedelta(hours=167)
    after = shift_at(layer, NEW_YORK, utc(2027, 11, 8, 15, 30))  # DST ended Sunday 2027-11-07
    assert after is not None
    assert after.start == utc(2027, 11, 8, 15)  # Monday 10:00 EST again
    assert after.start.astimezone(NEW_YORK).time() == time(10)


def test_a_weekly_rotation_starts_on_its_handoff_day() -> None:
    layer = Layer("week", "weekly", 2, time(9), date(2027, 1, 6), ("x", "y"), handoff_day=0)
    assert shift_at(layer, BERLIN, utc(2027, 1, 10, 12)) is None  # before Monday 2027-01-11
    first = shift_at(layer, BERLIN, utc(2027, 1, 11, 8))
    assert first is not None
    assert (first.person, first.end) == ("x", utc(2027, 1, 25, 8))


def test_a_handoff_the_clocks_skip_happens_at_the_old_offset() -> None:
    layer = daily(date(2027, 3, 26), handoff=time(2, 30))  # 02:30 does not exist on 03-28
    schedule = Schedule(BERLIN, (layer,))
    assert on_call(schedule, utc(2027, 3, 28, 1, 29))[0] == ("b",)
    assert on_call(schedule, utc(2027, 3, 28, 1, 30))[0] == ("c",)  # 03:30 CEST


def test_an_hourly_rotation_counts_real_hours_across_dst() -> None:
    layer = Layer("half-day", "hourly", 12, time(8), date(2027, 3, 27), ("d", "n"))
    shift = shift_at(layer, BERLIN, utc(2027, 3, 28, 5))
    assert shift is not None
    assert shift.end - shift.start == timedelta(hours=12)
    assert shift.start == utc(2027, 3, 27, 19)


def test_a_restricted_upper_layer_wins_only_inside_its_windows() -> None:
    base = Layer("base", "weekly", 1, time(9), date(2027, 1, 4), ("a", "b"))
    hours = Window(WEEKDAYS, time(9), time(17))
    day = Layer("business", "daily", 1, time(9), date(2027, 1, 4), ("c",), restrict=(hours,))
    schedule = Schedule(BERLIN, (base, day))
    assert on_call(schedule, utc(2027, 1, 5, 9)) == (("c",), "business")  # Tuesday 10:00
    assert on_call(schedule, utc(2027, 1, 5, 17)) == (("a",), "base")  # Tuesday 18:00
    assert on_call(schedule, utc(2027, 1, 9, 9)) == (("a",), "base")  # Saturday


def test_a_window_past_midnight_covers_the_early_hours_of_the_next_day() -> None:
    night = Window(frozenset({4}), time(22), time(6))  # Friday 22:00 to Saturday 06:00
    layer = Layer("night", "daily", 1, time(0), date(2027, 1, 1), ("owl",), restrict=(night,))
    schedule = Schedule(BERLIN, (layer,))
    assert on_call(schedule, utc(2027, 1, 9, 2))[0] == ("owl",)  # Saturday 03:00
    assert on_call(schedule, utc(2027, 1, 9, 6))[0] == ()  # Saturday 07:00
    assert on_call(schedule, utc(2027, 1, 8, 20))[0] == ()  # Friday 21:00


def test_overrides_replace_everyone_or_one_person() -> None:
    layer = daily(date(2027, 1, 1), people=("a", "b"))
    cover = Override(utc(2027, 1, 1, 12), utc(2027, 1, 1, 14), "z")
    swap = Override(utc(2027, 1, 1, 0), utc(2027, 1, 3, 0), "y", replaces="b")
    schedule = Schedule(BERLIN, (layer,), (cover, swap))
    assert on_call(schedule, utc(2027, 1, 1, 13)) == (("z",), "override")
    assert on_call(schedule, utc(2027, 1, 1, 10)) == (("a",), "primary")  # a's day: no swap
    assert on_call(schedule, utc(2027, 1, 2, 10)) == (("y",), "override")  # b's day: y covers


def test_spans_merge_and_gaps_are_shown() -> None:
    hours = Window(WEEKDAYS, time(9), time(17))
    layer = Layer("office", "weekly", 1, time(9), date(2027, 1, 4), ("a",), restrict=(hours,))
    schedule = Schedule(BERLIN, (layer,))
    week = spans(schedule, utc(2027, 1, 4, 8), utc(2027, 1, 11, 8))
    covered = [s for s in week if s.people]
    assert [(s.start, s.end) for s in covered][:2] == [
        (utc(2027, 1, 4, 8), utc(2027, 1, 4, 16)),
        (utc(2027, 1, 5, 8), utc(2027, 1, 5, 16)),
    ]
    assert len(covered) == 5
    holes = gaps(schedule, utc(2027, 1, 4, 8), utc(2027, 1, 11, 8))
    assert len(holes) == 5
    assert holes[-1] == type(holes[-1])(utc(2027, 1, 8, 16), utc(2027, 1, 11, 8), (), "")
    full = Schedule(BERLIN, (daily(date(2027, 1, 1)),))
    assert gaps(full, utc(2027, 1, 4), utc(2027, 2, 4)) == []


def test_overlapping_overrides_of_the_same_person_are_found() -> None:
    one = Override(utc(2027, 1, 1, 0), utc(2027, 1, 2, 0), "x")
    two = Override(utc(2027, 1, 1, 12), utc(2027, 1, 3, 0), "y")
    other = Override(utc(2027, 1, 1, 12), utc(2027, 1, 3, 0), "y", replaces="a")
    after = Override(utc(2027, 1, 2, 0), utc(2027, 1, 3, 0), "x")
    assert overlapping([one, two]) == (one, two)
    assert overlapping([one, other]) is None
    assert overlapping([one, after]) is None


ZONES = st.sampled_from(
    [BERLIN, NEW_YORK, ZoneInfo("UTC"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kolkata")]
)


@settings(max_examples=300, deadline=None)
@given(
    zone=ZONES,
    unit=st.sampled_from(["hourly", "daily", "weekly"]),
    every=st.integers(min_value=1, max_value=4),
    handoff=st.times(),
    start=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    offset=st.integers(min_value=0, max_value=3 * 366 * 24 * 60),
    people=st.integers(min_value=1, max_value=5),
    handoff_day=st.integers(min_value=0, max_value=6),
)
def test_every_instant_falls_in_exactly_one_shift(
    zone: ZoneInfo,
    unit: str,
    every: int,
    handoff: time,
    start: date,
    offset: int,
    people: int,
    handoff_day: int,
) -> None:
    layer: Layer[int] = Layer(
        "l",
        unit,
        every,
        handoff,
        start,
        tuple(range(people)),
        handoff_day,  # type: ignore[arg-type]
    )
    at = datetime.combine(start, time(0), tzinfo=UTC) + timedelta(minutes=offset)
    shift = shift_at(layer, zone, at)
    if shift is None:
        return
    assert shift.start <= at < shift.end
    assert shift.person == shift.index % people
    following = shift_at(layer, zone, shift.end)
    assert following is not None
    assert following.index == shift.index + 1
    assert following.start == shift.end
