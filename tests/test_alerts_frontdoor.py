"""While a flood of requests keeps the rest of the process busy, the intake thread stands aside
before ingesting (warroom.alerts.frontdoor), for a bounded time. Its decisions, on a clock
and a CPU meter the test moves."""

from __future__ import annotations

import threading
import time

import pytest

from warroom.alerts import frontdoor
from warroom.alerts.frontdoor import (
    BUSY_SHARE,
    HINT_SHARE,
    MAX_HOLD_SECONDS,
    PROBE_GAP_SECONDS,
    PROBE_SECONDS,
    QUIET_LOOKS,
    FrontDoor,
)


class Meter:
    """A clock and the CPU time of the other threads, moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0
        self.cpu = 0.0

    def run(self, seconds: float, share: float) -> None:
        """``seconds`` pass, the others using ``share`` of them."""
        self.now += seconds
        self.cpu += seconds * share


@pytest.fixture
def meter() -> Meter:
    return Meter()


@pytest.fixture
def door(meter: Meter) -> FrontDoor:
    made = FrontDoor(now=lambda: meter.now, others_cpu=lambda: meter.cpu)
    assert not made.stand_aside()  # the first look has nothing to compare with
    return made


FLOOD = 0.97  # the others' share of the processor when they have work for all of it
CHUNK = 0.03  # seconds of ingesting one chunk


def _flood_held(door: FrontDoor, meter: Meter) -> None:
    """Ingesting while the others take a fair share, then a look while standing aside that
    finds them using all of it: the flood holds ingesting up from then on."""
    meter.run(CHUNK, 0.5)
    assert door.stand_aside()  # they took half while we ingested: look
    meter.run(PROBE_SECONDS, FLOOD)
    assert door.stand_aside()  # they use it all by themselves: stand aside


def test_a_quiet_process_is_never_waited_for(door: FrontDoor, meter: Meter) -> None:
    for _ in range(50):
        meter.run(CHUNK, HINT_SHARE - 0.1)
        assert not door.stand_aside()


def test_a_busy_process_without_a_flood_costs_one_look_now_and_then(
    door: FrontDoor, meter: Meter
) -> None:
    meter.run(CHUNK, 0.5)
    assert door.stand_aside()
    meter.run(PROBE_SECONDS, 0.4)  # alone, they used well under all of it: no flood
    assert not door.stand_aside()
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
    meter.run(PROBE_SECONDS, 0.2)  # a commit waiting for the disk: one quiet look
    assert door.stand_aside()
    meter.run(PROBE_SECONDS, FLOOD)
    assert door.stand_aside()
    for _ in range(QUIET_LOOKS - 1):  # the flood is over: quiet looks in a row
        meter.run(PROBE_SECONDS, 0.2)
        assert door.stand_aside()
    meter.run(PROBE_SECONDS, 0.2)
    assert not door.stand_aside()


def test_a_flood_holds_ingesting_up_for_a_bounded_time_until_caught_up(
    door: FrontDoor, meter: Meter
) -> None:
    _flood_held(door, meter)
    held = 0.0
    while door.stand_aside():
        meter.run(PROBE_SECONDS, FLOOD)
        held += PROBE_SECONDS
        assert held <= MAX_HOLD_SECONDS + 2 * PROBE_SECONDS
    assert held >= MAX_HOLD_SECONDS - 2 * PROBE_SECONDS
    for _ in range(20):  # the flood goes on: ingesting takes its turns with it now
        meter.run(CHUNK, 0.5)
        assert not door.stand_aside()
        meter.run(PROBE_SECONDS, FLOOD)
        assert not door.stand_aside()
    door.caught_up()  # nothing left to ingest: the next flood may hold it up again
    _flood_held(door, meter)


def test_a_second_flood_before_catching_up_shares_the_first_ones_time(
    door: FrontDoor, meter: Meter
) -> None:
    _flood_held(door, meter)
    meter.run(MAX_HOLD_SECONDS / 2, FLOOD)
    for _ in range(QUIET_LOOKS):
        assert door.stand_aside()
        meter.run(PROBE_SECONDS, 0.1)
    assert not door.stand_aside()  # over: ingest
    meter.run(CHUNK, 0.5)
    assert door.stand_aside()  # a new flood: no gap before looking, in the same backlog
    meter.run(PROBE_SECONDS, FLOOD)
    assert door.stand_aside()
    meter.run(MAX_HOLD_SECONDS / 2, FLOOD)
    assert not door.stand_aside()  # both floods together held it up for the bound


def test_a_flood_is_what_the_others_use_while_standing_aside(door: FrontDoor, meter: Meter) -> None:
    meter.run(CHUNK, 0.5)
    assert door.stand_aside()
    meter.run(PROBE_SECONDS, BUSY_SHARE - 0.05)
    assert not door.stand_aside()
    meter.run(PROBE_GAP_SECONDS, 0.5)
    assert door.stand_aside()
    meter.run(PROBE_SECONDS, BUSY_SHARE + 0.05)
    assert door.stand_aside()


def test_the_others_cpu_leaves_out_the_calling_thread() -> None:
    """The default meter: CPU time the other threads use counts, the caller's own does not."""
    meter = frontdoor._others_cpu

    def spin(seconds: float) -> None:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    before = meter()
    own = time.thread_time()
    spin(0.05)
    own = time.thread_time() - own
    assert meter() - before < own / 2
    spinner = threading.Thread(target=spin, args=(0.05,))
    before = meter()
    spinner.start()
    spinner.join()
    assert meter() - before >= 0.04
