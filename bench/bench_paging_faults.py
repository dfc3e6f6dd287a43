"""Fault injection for paging: escalations run while worker processes are killed with
SIGKILL at random moments and restarted; prints lost pages (target 0), duplicate pages
(target at most 1 in 1,000) and pages received after an acknowledgement (target 0).

Half the escalations are acknowledged after a random level has been paged; the others
must page all three levels. Waits are skipped (pending steps are made due at once).

Run:  .venv/bin/python bench/bench_paging_faults.py
Environment: BENCH_ESCALATIONS=200, BENCH_SECONDS=300 (time bound of each run),
BENCH_DATABASE_URL (also run with 3 workers on this PostgreSQL database; default: the
test database postgresql+psycopg://postgres@127.0.0.1:5432/test when it answers).
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from tests import faults

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fresh_postgres(url: str) -> str | None:
    """A new empty database next to ``url`` (dropped by nobody: named bench_faults_*)."""
    name = f"bench_faults_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # no PostgreSQL here: run SQLite only
        print(f"PostgreSQL at {url} is not usable ({type(exc).__name__}); SQLite only")
        return None
    return url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    count = int(os.environ.get("BENCH_ESCALATIONS", "200"))
    seconds = float(os.environ.get("BENCH_SECONDS", "300"))
    pg = fresh_postgres(os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    with tempfile.TemporaryDirectory(prefix="warroom-faults-") as tmp:
        runs = [("SQLite, 1 worker", f"sqlite:///{tmp}/sqlite/warroom.db", 1)]
        if pg:
            runs.append(("PostgreSQL, 3 workers", pg, 3))
        for label, url, workers in runs:
            workdir = Path(tmp) / label.split(",")[0].lower()
            workdir.mkdir(exist_ok=True)
            result = faults.run(
                database_url=url,
                workdir=workdir,
                escalations=count,
                workers=workers,
                seconds=seconds,
            )
            print(f"{label}: {result.line()}")


if __name__ == "__main__":
    main()
