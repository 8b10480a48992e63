"""A sliding-window request counter for the test doubles' rate limits.

Zendesk and PagerDuty both state their limits as "N requests per interval"
(PagerDuty: "calculated over a 60 second window looking back from the current
time", Events API v2 "Rate Limits"). A log of hit instants answers that exactly
and also gives the numbers Zendesk puts in its headers (remaining, resets).
The clock is injectable so a test can move time instead of sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` hits in any ``window`` seconds; not thread-safe (lock outside)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: deque[float] = deque()

    def _prune(self) -> float:
        now = self._clock()
        while self._hits and self._hits[0] <= now - self.window:
            self._hits.popleft()
        return now

    def hit(self) -> bool:
        """Count one request if the window has room; False (and not counted) if full."""
        now = self._prune()
        if len(self._hits) >= self.limit:
            return False
        self._hits.append(now)
        return True

    def record(self) -> None:
        """Count one request even when full (work done elsewhere, e.g. in the agent UI)."""
        self._hits.append(self._prune())

    def remaining(self) -> int:
        """How many more hits the window takes now."""
        self._prune()
        return max(0, self.limit - len(self._hits))

    def resets(self) -> int:
        """Whole seconds until the oldest counted hit leaves the window (at least 1)."""
        now = self._prune()
        if not self._hits:
            return max(1, math.ceil(self.window))
        return max(1, math.ceil(self._hits[0] + self.window - now))

    def header(self) -> str:
        """Zendesk's per-endpoint header value: ``total=N; remaining=N; resets=N``."""
        return (
            f"total={self.limit}; remaining={self.remaining()}; resets={self.resets()}"
        )
