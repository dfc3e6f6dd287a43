"""A token bucket per client: customer reports and sign-ins per address, and the first
notices sent at once during a flood."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from warroom.errors import WarroomError


class RateLimited(WarroomError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many reports; try again in {retry_after} s", details={"retry_after": retry_after}
        )
        self.retry_after = retry_after


@dataclass
class RateLimiter:
    """A token bucket per client: ``burst`` at once, then one per ``every`` seconds."""

    burst: int = 5
    every: float = 12.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, client: str) -> None:
        """Take one of the client's tokens; RateLimited when none is left."""
        if wait := self.take_or_wait(client):
            raise RateLimited(math.ceil(wait))

    def ready(self, client: str) -> bool:
        """Whether one of the client's tokens is there (taking none)."""
        with self._lock:
            return self._tokens(client, time.monotonic()) >= 1

    def take_or_wait(self, client: str) -> float:
        """Take one of the client's tokens and return 0; or, when none is left, return how
        many seconds until one is (taking none)."""
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens(client, now)
            if tokens < 1:
                return (1 - tokens) * self.every
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > 10_000:  # forget the quiet ones
                self._buckets = {
                    k: v for k, v in self._buckets.items() if now - v[1] < self.every * self.burst
                }
        return 0.0

    def _tokens(self, client: str, now: float) -> float:
        tokens, stamp = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - stamp) / self.every)
