"""While a flood of requests keeps the event loop busy, the intake thread stands aside before
ingesting (warroom.alerts.frontdoor), for a bounded time. Its decisions, on a clock and a
meter of the event loop's CPU time that the test moves; and the meter itself."""

from __future__ import annotations

import threading
import time

import pytest

from warroom.alerts.frontdoor import (
    BUSY_SHARE,
    FLOOD_LOOKS,
    HINT_SHARE,
    MAX_HOLD_SECONDS,
    PROBE_GAP_SECONDS,
    PROBE_SECONDS,
    QUIET_LOOKS,
    FrontDoor,
)


class Meter:
    """A clock and the event loop's CPU time, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0
        self.cpu = 0.0

    def run(self, seconds: float, share: float) -> None:
        """``seconds`` pass, the event loop using ``share`` of them."""
        self.now += seconds
        self.cpu += seconds * share


@pytest.fixture
def meter() -> Meter:
    return Meter()


@pytest.fixture
def door(meter: Meter) -> FrontDoor:
    made = FrontDoor(now=lambda: meter.now, loop_cpu=lambda: meter.cpu)
    assert not made.stand_aside()  # the first look has nothing to compare with
    return made


FLOOD = 0.97  # the event loop's share of the processor when requests queue for it
CHUNK = 0.03  # seconds of ingesting one chunk


def _look(door: FrontDoor, meter: Meter, *shares: float) -> list[bool]:
    """After a chunk ingested while the event loop took half the time, what each look says,
    the event loop using each share in turn of the time stood aside before it."""
    meter.run(CHUNK, 0.5)
    said = [door.stand_aside()]
    for share in shares:
        meter.run(PROBE_SECONDS, share)
        said.append(door.stand_aside())
    return said


def _flood_held(door: FrontDoor, meter: Meter) -> None:
    """A look, a first time aside that tells nothing, then FLOOD_LOOKS that find it busy."""
    assert _look(door, meter, *[FLOOD] * (1 + FLOOD_LOOKS)) == [True] * (2 + FLOOD_LOOKS)


def test_a_quiet_event_loop_is_never_waited_for(door: FrontDoor, meter: Meter) -> None:
    for _ in range(50):
        meter.run(CHUNK, HINT_SHARE - 0.1)
        assert not door.stand_aside()


def test_a_busy_event_loop_without_a_flood_costs_a_few_looks_now_and_then(
    door: FrontDoor, meter: Meter
) -> None:
    # the first time aside, it catches up on what queued: busy, but that tells nothing
    assert _look(door, meter, FLOOD, FLOOD, 0.4) == [True, True, True, False]
    looks = 0
    waited = 0.0
    while waited < PROBE_GAP_SECONDS * 0.9:  # no other look within the gap
        meter.run(CHUNK, 0.5)
        waited += CHUNK
        looks += door.stand_aside()
    assert looks == 0
    meter.run(PROBE_GAP_SECONDS, 0.5)
    assert door.stand_aside()  # after it, a look again


def test_a_flood_holds_ingesting_up_until_it_ends(door: FrontDoor, meter: Meter) -> None:
    _flood_held(door, meter)
    for _ in range(100):
        meter.run(PROBE_SECONDS, FLOOD)
        assert door.stand_aside()
    for _ in range(QUIET_LOOKS - 1):  # a commit waiting for the disk: quiet looks
        meter.run(PROBE_SECONDS, 0.2)
        assert door.stand_aside()
    meter.run(PROBE_SECONDS, FLOOD)
    assert door.stand_aside()
    for _ in range(QUIET_LOOKS - 1):  # the flood is over: quiet looks in a row
        meter.run(PROBE_SECONDS, 0.2)
        assert door.stand_aside()
    meter.run(PROBE_SECONDS, 0.2)
    assert not door.stand_aside()
    meter.run(CHUNK, 0.5)
    assert not door.stand_aside()  # and no look again at once


def test_a_flood_holds_ingesting_up_for_a_bounded_time_until_caught_up(
    door: FrontDoor, meter: Meter
) -> None:
    _flood_held(door, meter)
    held = (1 + FLOOD_LOOKS) * PROBE_SECONDS
    while door.stand_aside():
        meter.run(PROBE_SECONDS, FLOOD)
        held += PROBE_SECONDS
        assert held <= MAX_HOLD_SECONDS + 3 * PROBE_SECONDS
    assert held >= MAX_HOLD_SECONDS - 3 * PROBE_SECONDS
    for _ in range(20):  # the flood goes on: ingesting takes its turns with it now
        meter.run(PROBE_GAP_SECONDS, 0.5)
        assert not door.stand_aside()
        meter.run(PROBE_SECONDS, FLOOD)
        assert not door.stand_aside()
    door.caught_up()  # nothing left to ingest: the next flood may hold it up again
    _flood_held(door, meter)


def test_floods_before_catching_up_share_one_bound(door: FrontDoor, meter: Meter) -> None:
    _flood_held(door, meter)
    meter.run(MAX_HOLD_SECONDS / 2, FLOOD)
    said = [door.stand_aside()]
    for _ in range(QUIET_LOOKS):  # over: ingest
        meter.run(PROBE_SECONDS, 0.1)
        said.append(door.stand_aside())
    assert said == [True] * QUIET_LOOKS + [False]
    meter.run(PROBE_GAP_SECONDS, 0.5)
    _flood_held(door, meter)  # a new flood, in the same backlog
    meter.run(MAX_HOLD_SECONDS / 2, FLOOD)
    assert not door.stand_aside()  # both together held ingesting up for the bound


def test_a_flood_is_the_event_loop_busy_each_time_it_is_left_the_processor(
    door: FrontDoor, meter: Meter
) -> None:
    assert _look(door, meter, 0.1, BUSY_SHARE - 0.05) == [True, True, False]
    meter.run(PROBE_GAP_SECONDS, 0.5)
    one_quiet = [0.1, *[FLOOD] * (FLOOD_LOOKS - 1), BUSY_SHARE - 0.05]
    assert _look(door, meter, *one_quiet)[-1] is False
    meter.run(PROBE_GAP_SECONDS, 0.5)
    _flood_held(door, meter)


def test_the_event_loop_thread_is_what_is_watched() -> None:
    """The default meter: the CPU time of the thread that called watch_this_thread, read
    from another thread; the reader's own CPU time does not count."""
    door = FrontDoor()
    assert not door.stand_aside()  # nothing watched yet: never stands aside
    stop = threading.Event()

    def event_loop() -> None:
        door.watch_this_thread()
        while not stop.is_set():  # as busy as under a flood
            pass

    spinner = threading.Thread(target=event_loop)
    spinner.start()
    try:
        time.sleep(0.05)
        assert not door.stand_aside()  # the first look: nothing to compare with yet
        time.sleep(0.02)
        assert door.stand_aside()  # it kept its processor busy: a look
    finally:
        stop.set()
        spinner.join()
    time.sleep(0.01)
    assert not door.stand_aside()  # the watched thread ended: never stands aside
