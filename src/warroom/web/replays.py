"""Refuse a signed inbound request seen before: a captured request cannot be replayed."""

from __future__ import annotations

import threading
import time

REPLAY_WINDOW = 5 * 60  # Slack refuses older timestamps anyway; Twilio signs no time


class SeenSignatures:
    """Signatures of the last five minutes (older ones fail the timestamp check anyway)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, signature: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000 or any(
                t < now - REPLAY_WINDOW for t in self._seen.values()
            ):
                self._seen = {s: t for s, t in self._seen.items() if t >= now - REPLAY_WINDOW}
            if signature in self._seen:
                return False
            self._seen[signature] = now
            return True
