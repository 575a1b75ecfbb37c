"""The Redis store (REDIS_URL: redis://, rediss://, with or without a password).

Every operation is a single Redis command or a tiny Lua script, so each is atomic across
replicas: SET NX EX for seen-sets and locks, INCR + EXPIRE for windows, compare-and-delete for
releasing a lock one still owns. Timeouts are short (a few hundred milliseconds): a slow Redis
must not slow an answer down; its errors surface as StoreError for the caller to degrade.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

from diagnostics.store.base import StoreError

DEFAULT_TIMEOUT = 0.3  # seconds, per command and per connection attempt

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_INCR = """
local n = redis.call('incr', KEYS[1])
if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end
return n
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisStore:
    name = "redis"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT):
        self.url = url
        # RESP2: every Redis server and proxy speaks it. redis-py 8's default RESP3 handshake
        # (HELLO 3) intermittently failed here on connect ("Connection closed by server"), and
        # proxies without HELLO refuse it; meshbot needs nothing from RESP3.
        self._redis = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                     protocol=2, retry_on_timeout=False, health_check_interval=0)
        self._release = self._redis.register_script(_RELEASE)
        self._incr = self._redis.register_script(_INCR)

    async def _call(self, coro):
        try:
            return await coro
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis: {type(exc).__name__}: {exc}") from None

    async def get(self, key: str) -> bytes | None:
        return await self._call(self._redis.get(key))

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._call(self._redis.set(key, value, px=_ms(ttl)))

    async def delete(self, key: str) -> None:
        await self._call(self._redis.delete(key))

    async def add_once(self, key: str, ttl: float) -> bool:
        return bool(await self._call(self._redis.set(key, b"1", nx=True, px=_ms(ttl))))

    async def incr(self, key: str, ttl: float) -> int:
        return int(await self._call(self._incr(keys=[key], args=[_ms(ttl)])))

    async def acquire(self, key: str, owner: str, ttl: float) -> bool:
        return bool(await self._call(self._redis.set(key, owner.encode(), nx=True, px=_ms(ttl))))

    async def release(self, key: str, owner: str) -> None:
        await self._call(self._release(keys=[key], args=[owner.encode()]))

    async def ping(self) -> None:
        await self._call(self._redis.ping())

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except (RedisError, OSError):
            pass
