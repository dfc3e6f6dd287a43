"""On SQLite, while warroom serves: the database's write-ahead-log checkpoints, taken by a
thread of their own.

SQLite copies a write-ahead log back into its database (a checkpoint) from the connection
whose commit takes the log past 1,000 pages, and a checkpoint waits for the disk. Left to
SQLite, that is the commit of an ingest or of the job worker: about one commit in a hundred
took 4 to 7 ms instead of 30 µs, and an incident opened then was notified that much later.
While a ``Checkpointer`` runs, the app's connections to the database leave checkpoints to
it (``db.leave_checkpoints``) and it takes them every ``EVERY_SECONDS``. Its checkpoints are
passive: they never wait for, nor hold up, a reader or a writer.

The intake journal is not among its files: the intake thread checkpoints it, and not while
a flood is being accepted (``journal.Mover.checkpoint``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger("warroom.db")
EVERY_SECONDS = 0.25  # between two checkpoints of each file
LOG_EVERY_SECONDS = 60.0  # a failure that keeps coming is logged at most this often


class Checkpointer:
    """Checkpoints ``files`` (SQLite databases in WAL mode) every ``every_seconds`` in a
    thread of its own, from ``start`` to ``stop``."""

    def __init__(self, files: Sequence[Path], *, every_seconds: float = EVERY_SECONDS) -> None:
        self.files = list(files)
        self.every_seconds = every_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # the connections: the thread's, and checkpoint()'s
        self._connections: dict[Path, sqlite3.Connection] = {}
        self._logged_at = -LOG_EVERY_SECONDS

    @property
    def running(self) -> bool:
        """Whether its thread runs (a thread that died takes no checkpoints: then the
        connections take their own again)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="warroom-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread after one last checkpoint of each file."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        thread.join()
        self._thread = None

    def checkpoint(self) -> dict[Path, tuple[int, int]]:
        """One checkpoint of each file that exists: for each, the pages its log held and the
        pages copied into it. A file whose checkpoint fails is opened afresh next time."""
        done: dict[Path, tuple[int, int]] = {}
        with self._lock:
            for path in self.files:
                connection = self._connection(path)
                if connection is None:
                    continue
                try:
                    row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    del self._connections[path]
                    connection.close()
                    raise
                done[path] = (row[1], row[2])
        return done

    def _connection(self, path: Path) -> sqlite3.Connection | None:
        """A connection to the file, opened once; None while the file does not exist (a
        checkpoint never creates it)."""
        connection = self._connections.get(path)
        if connection is None and path.exists():
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=rw",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            self._connections[path] = connection
        return connection

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self.every_seconds):
                self._checkpoint_logged()
            self._checkpoint_logged()
        finally:
            with self._lock:
                for connection in self._connections.values():
                    connection.close()
                self._connections.clear()

    def _checkpoint_logged(self) -> None:
        try:
            self.checkpoint()
        except Exception:  # the next one copies what this one could not
            if time.monotonic() - self._logged_at >= LOG_EVERY_SECONDS:
                self._logged_at = time.monotonic()
                logger.exception("checkpointing the database failed; trying again")
