"""Clocks for the fakes: the rate limiter, trigger_id and response_url expiry read one.

Tests that need time to pass without sleeping inject a ManualClock and `advance()` it.
"""

from __future__ import annotations

import time


class SystemClock:
    """Monotonic seconds (the default)."""

    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += seconds
        return self._now
