"""Redis when it answers, this process's memory when it does not.

A Redis outage must never cost an answer: every operation that fails (or times out) is served
by an in-process store instead, the outage is logged once, reported as degraded (metric,
/readyz), and Redis is probed again every few seconds and used as soon as it is back. While
degraded, replicas no longer share state: each still answers every ask exactly once itself.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from diagnostics.store.base import Store, StoreError
from diagnostics.store.memory import MemoryStore

RETRY_AFTER = 5.0  # seconds between probes of a Redis that failed
log = logging.getLogger("meshbot.store")


class ResilientStore:
    def __init__(self, primary: Store, fallback: Store | None = None,
                 on_error: Callable[[], None] = lambda: None,
                 on_degraded: Callable[[bool], None] = lambda _degraded: None,
                 clock: Callable[[], float] = time.monotonic, retry_after: float = RETRY_AFTER):
        self.primary, self.fallback = primary, fallback or MemoryStore()
        self.retry_after = retry_after
        self.name = f"{primary.name} (falls back to memory)"
        self._on_error, self._on_degraded, self._clock = on_error, on_degraded, clock
        self._down_until: float | None = None

    @property
    def degraded(self) -> bool:
        return self._down_until is not None

    async def _do(self, op: str, *args: Any) -> Any:
        if self._down_until is not None and self._clock() < self._down_until:
            return await getattr(self.fallback, op)(*args)
        try:
            result = await getattr(self.primary, op)(*args)
        except StoreError as exc:
            self._on_error()
            if self._down_until is None:
                log.warning("store unavailable, answering without it: %s (%s)", exc, op)
                self._on_degraded(True)
            self._down_until = self._clock() + self.retry_after
            return await getattr(self.fallback, op)(*args)
        if self._down_until is not None:
            log.warning("store is back")
            self._down_until = None
            self._on_degraded(False)
        return result

    async def get(self, key: str) -> bytes | None:
        return await self._do("get", key)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._do("set", key, value, ttl)

    async def delete(self, key: str) -> None:
        await self._do("delete", key)

    async def add_once(self, key: str, ttl: float) -> bool:
        return await self._do("add_once", key, ttl)

    async def incr(self, key: str, ttl: float) -> int:
        return await self._do("incr", key, ttl)

    async def acquire(self, key: str, owner: str, ttl: float) -> bool:
        return await self._do("acquire", key, owner, ttl)

    async def release(self, key: str, owner: str) -> None:
        await self._do("release", key, owner)

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()


def open_store(url: str | None, *, on_error: Callable[[], None] = lambda: None,
               on_degraded: Callable[[bool], None] = lambda _d: None,
               retry_after: float = RETRY_AFTER) -> Store:
    """The store for REDIS_URL, or the in-process one when it is unset."""
    if not url:
        return MemoryStore()
    from diagnostics.store.redis_store import RedisStore
    return ResilientStore(RedisStore(url), on_error=on_error, on_degraded=on_degraded,
                          retry_after=retry_after)
