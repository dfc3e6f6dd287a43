"""Paging survives workers killed with SIGKILL at random moments: no page lost, no page
after an acknowledgement, duplicates only where a worker died between sending and
recording (bench/bench_paging_faults.py runs the full 200)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import faults

pytestmark = pytest.mark.slow


def test_killed_workers_lose_no_page_and_page_nobody_after_an_acknowledgement(
    database_url: str, tmp_path: Path
) -> None:
    workers = 3 if database_url.startswith("postgresql") else 1
    result = faults.run(
        database_url=database_url, workdir=tmp_path, escalations=30, workers=workers, seconds=90
    )
    assert result.kills >= 2, result.line()
    assert result.unfinished == 0, result.line()
    assert result.lost == 0, result.line()
    assert result.after_ack == 0, result.line()
    assert result.duplicates <= max(1, result.received // 100), result.line()
