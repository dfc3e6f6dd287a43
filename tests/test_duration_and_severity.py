"""Playbook durations (``15m``, ``1h30m``) and the severity suggested from the impact."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from warroom.errors import PlaybookError
from warroom.playbook.duration import format_duration, parse_duration
from warroom.playbook.loader import default_playbook_text, load_playbook, parse_playbook
from warroom.playbook.schema import Playbook
from warroom.playbook.severity import Impact, suggest_severity

# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("4w", timedelta(weeks=4)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 1h 30m ", timedelta(hours=1, minutes=30)),
        ("0", timedelta(0)),
        ("0m", timedelta(0)),
        ("90m", timedelta(minutes=90)),
        (0, timedelta(0)),
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
        (timedelta(minutes=3), timedelta(minutes=3)),
    ],
)
def test_parse_duration(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0m"),
        (timedelta(seconds=30), "30s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(hours=24), "1d"),
        (timedelta(hours=72), "3d"),
        (timedelta(days=7), "1w"),
        (timedelta(weeks=4), "4w"),
        (timedelta(days=8, seconds=1), "1w1d1s"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " ",
        "abc",
        "15",
        "15x",
        "m15",
        "15 minutes",
        "1.5h",
        "15M",
        "h",
        "-5m",
        "+5m",
        "1h-30m",
        "None",
        None,
        True,
        False,
        [15],
    ],
)
def test_bad_durations_raise_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("negative", [-1, -60, -0.5, timedelta(minutes=-5)])
def test_negative_durations_raise_value_error(negative: object) -> None:
    """No window, deadline or cadence is negative; ``-60`` must not become minus a minute."""
    with pytest.raises(ValueError):  # noqa: PT011 - any message, as long as it is a ValueError
        parse_duration(negative)


@pytest.mark.parametrize("huge", [float("inf"), float("nan"), 10**20, "99999999999999w"])
def test_out_of_range_durations_raise_value_error(huge: object) -> None:
    """Not OverflowError: only ValueError becomes a playbook problem naming the field."""
    with pytest.raises(ValueError):  # noqa: PT011 - any message, as long as it is a ValueError
        parse_duration(huge)


@pytest.mark.parametrize("value", ["-60", ".inf", "99999999999999w"])
def test_a_playbook_with_a_bad_duration_names_the_field(value: str) -> None:
    text = default_playbook_text().replace("update_every: 30m", f"update_every: {value}", 1)
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(text)
    assert any(p.startswith("severities[0].update_every") for p in caught.value.problems)


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(weeks=10_000)))
def test_format_then_parse_round_trips_whole_seconds(value: timedelta) -> None:
    value = timedelta(seconds=int(value.total_seconds()))
    text = format_duration(value)
    assert parse_duration(text) == value
    assert format_duration(parse_duration(text)) == text


UNIT = st.sampled_from("wdhms")
PARTS = st.lists(st.tuples(st.integers(min_value=0, max_value=999), UNIT), min_size=1, max_size=5)


@given(PARTS)
def test_parse_then_format_is_canonical(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{u}" for n, u in parts)
    seconds = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
    value = parse_duration(text)
    assert value == timedelta(seconds=sum(n * seconds[u] for n, u in parts))
    canonical = format_duration(value)
    assert parse_duration(canonical) == value
    assert format_duration(parse_duration(canonical)) == canonical


@given(st.integers(min_value=0, max_value=10**9))
def test_numbers_are_seconds(seconds: int) -> None:
    assert parse_duration(seconds) == timedelta(seconds=seconds)
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


# --- suggested severity ---------------------------------------------------------------------


@functools.cache
def default_playbook() -> Playbook:
    return load_playbook()


@pytest.mark.parametrize(
    ("impact", "severity"),
    [
        (Impact(outage="complete"), "P0"),
        (Impact(breach=True), "P0"),
        (Impact(security=True), "P0"),
        (Impact(outage="complete", users_affected_percent=100), "P0"),
        (Impact(outage="partial"), "P1"),
        (Impact(outage="partial", users_affected_percent=5), "P1"),
        (Impact(users_affected_percent=51), "P1"),
        (Impact(users_affected_percent=50.5), "P1"),
        (Impact(users_affected_percent=100), "P1"),
        (Impact(users_affected_percent=50), "P2"),
        (Impact(users_affected_percent=49), "P2"),
        (Impact(users_affected_percent=0.1), "P2"),
        (Impact(users_affected_percent=0), "P3"),
        (Impact(), "P3"),
        (Impact(outage="none", users_affected_percent=0), "P3"),
    ],
)
def test_suggest_severity(impact: Impact, severity: str) -> None:
    assert suggest_severity(default_playbook(), impact) == severity


@pytest.mark.parametrize("percent", [-1, 100.5])
def test_impact_share_is_a_percentage(percent: float) -> None:
    with pytest.raises(ValidationError):
        Impact(users_affected_percent=percent)


RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}  # lower is more severe

PERCENT = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(
    outage=st.sampled_from(["none", "partial", "complete"]),
    breach=st.booleans(),
    security=st.booleans(),
    a=PERCENT,
    b=PERCENT,
)
def test_more_users_affected_is_never_less_severe(
    outage: str, breach: bool, security: bool, a: float, b: float
) -> None:
    fewer, more = sorted((a, b))
    playbook = default_playbook()

    def severity(percent: float) -> str:
        impact = Impact.model_validate(
            {
                "outage": outage,
                "breach": breach,
                "security": security,
                "users_affected_percent": percent,
            }
        )
        return suggest_severity(playbook, impact)

    assert RANK[severity(more)] <= RANK[severity(fewer)], (severity(fewer), severity(more))


@given(
    breach=st.booleans(),
    security=st.booleans(),
    percent=PERCENT,
)
def test_worse_outage_is_never_less_severe(breach: bool, security: bool, percent: float) -> None:
    playbook = default_playbook()
    ranks = [
        RANK[
            suggest_severity(
                playbook,
                Impact.model_validate(
                    {
                        "outage": outage,
                        "breach": breach,
                        "security": security,
                        "users_affected_percent": percent,
                    }
                ),
            )
        ]
        for outage in ("none", "partial", "complete")
    ]
    assert ranks == sorted(ranks, reverse=True)
