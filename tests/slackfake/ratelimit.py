"""Per-key token bucket (chat.postMessage: ~1 message per second per channel, short bursts).

The clock is injectable (ManualClock) so tests exercise the limit without sleeping.
"""

from __future__ import annotations

import math
from typing import Any

from .clock import SystemClock


class TokenBucket:
    """`rate` tokens per second per key, at most `burst` stored. take(key) -> 0.0 when allowed,
    else the seconds until a token is available (nothing is consumed then)."""

    def __init__(self, rate: float = 1.0, burst: int = 1, clock: Any = None) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock or SystemClock()
        self._buckets: dict[Any, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def take(self, key: Any) -> float:
        now = self.clock.now()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> int:
        """The Retry-After header value (whole seconds, at least 1) for a wait."""
        return max(1, math.ceil(wait - 1e-9))

    def reset(self) -> None:
        self._buckets.clear()
