"""The in-process store: the default when REDIS_URL is unset (one replica, nothing shared)."""

from __future__ import annotations

import time
from typing import Callable


#: How often writes sweep out what expired (seconds): a value is otherwise dropped only when
#: its key is read again, and the facts of a namespace checked once (megabytes at 10,000
#: pods) would stay in the bot until 100,000 keys had been written.
SWEEP_SECONDS = 30.0


class MemoryStore:
    """Dict-backed store with lazy expiry, swept every SWEEP_SECONDS by the next write;
    `clock` is injectable so tests need not sleep."""

    name = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock, self._max = clock, max_keys
        self._data: dict[str, tuple[bytes, float]] = {}
        self._next_sweep = clock() + SWEEP_SECONDS

    def _live(self, key: str) -> tuple[bytes, float] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= self._clock():
            del self._data[key]
            return None
        return item

    def _put(self, key: str, value: bytes, ttl: float) -> None:
        now = self._clock()
        if len(self._data) >= self._max or now >= self._next_sweep:
            self._evict(now)
        self._data[key] = (value, now + ttl)

    def _evict(self, now: float) -> None:
        self._next_sweep = now + SWEEP_SECONDS
        for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
            del self._data[key]
        while len(self._data) >= self._max:  # still full: drop the soonest to expire
            del self._data[min(self._data, key=lambda k: self._data[k][1])]

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[0] if item else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._put(key, value, ttl)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def add_once(self, key: str, ttl: float) -> bool:
        if self._live(key):
            return False
        self._put(key, b"1", ttl)
        return True

    async def incr(self, key: str, ttl: float) -> int:
        item = self._live(key)
        if item is None:
            self._put(key, b"1", ttl)
            return 1
        count = int(item[0]) + 1
        self._data[key] = (str(count).encode(), item[1])
        return count

    async def acquire(self, key: str, owner: str, ttl: float) -> bool:
        if self._live(key):
            return False
        self._put(key, owner.encode(), ttl)
        return True

    async def release(self, key: str, owner: str) -> None:
        item = self._live(key)
        if item and item[0] == owner.encode():
            del self._data[key]

    async def close(self) -> None:
        self._data.clear()
