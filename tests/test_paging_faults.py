"""Paging survives workers killed with SIGKILL at random moments while they work: no page
lost, no page after an acknowledgement, a repeat only where a worker died between sending
and recording (bench/bench_paging_faults.py runs the full 200)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import faults

# CPU-heavy tests share one xdist worker (make test runs --dist loadgroup), so the time-bound
# kill-and-restart run never competes with a browser for the machine
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cpu-heavy")]


def test_killed_workers_lose_no_page_and_page_nobody_after_an_acknowledgement(
    database_url: str, tmp_path: Path
) -> None:
    # PostgreSQL: three workers share the jobs; one is killed whenever two are up
    workers, escalations = (3, 120) if database_url.startswith("postgresql") else (1, 60)
    result = faults.run(
        database_url=database_url,
        workdir=tmp_path,
        escalations=escalations,
        workers=workers,
        seconds=120,
    )
    assert result.kills >= 1, result.line()  # how many depends on speed; the bench counts
    assert result.unfinished == 0, result.line()
    assert result.lost == 0, result.line()
    assert result.after_ack == 0, result.line()
    # at least once: a worker killed between sending a page and recording it sends it again
    # (one job at a time, so at most one repeat per kill; the receiver sees one webhook-id)
    assert result.duplicates <= result.kills, result.line()
    # and every repeat is the same delivery again: deduplication by its key leaves none
    assert result.under_new_key == 0, result.line()
