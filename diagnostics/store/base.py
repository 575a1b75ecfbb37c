"""What meshbot needs from shared state, whatever holds it (memory or Redis).

Five primitives cover every need: a value cache with TTL, an "add once" seen-set (event dedupe),
a counter with a window (rate limits), and a lock with expiry owned by a token (single writers
and single-flight across replicas).
"""

from __future__ import annotations

from typing import Protocol

KEY_PREFIX = "meshbot:v1:"  # bump the version when a value layout changes


class StoreError(Exception):
    """The store could not answer (Redis down or slow); callers degrade, they do not fail."""


class Store(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def add_once(self, key: str, ttl: float) -> bool:
        """Mark `key` seen; True when it was not seen before (atomic across replicas)."""
        ...

    async def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter that expires `ttl` seconds after its first increment."""
        ...

    async def acquire(self, key: str, owner: str, ttl: float) -> bool:
        """Take a lock that expires by itself; False when someone else holds it."""
        ...

    async def release(self, key: str, owner: str) -> None:
        """Release the lock only if `owner` still holds it."""
        ...

    async def close(self) -> None: ...
