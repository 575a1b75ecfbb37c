"""The coordination store against a real redis-server, and the same behaviour in memory.

Cache with TTL, seen-sets, windowed counters, locks with expiry and hand-over, single-flight
(20 concurrent asks, one diagnosis, also across two replicas), and Redis going away mid-run.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest

from diagnostics.reports import ReportCache
from diagnostics.store.base import StoreError
from diagnostics.store.memory import SWEEP_SECONDS, MemoryStore
from diagnostics.store.redis_store import RedisStore
from diagnostics.store.resilient import ResilientStore
from tests.redis_support import RedisServer
from tests.scenario_support import run_snapshot, scenarios

BACKENDS = pytest.mark.parametrize("backend", ["memory", "redis"])


@asynccontextmanager
async def stores(backend: str, redis_server, count: int = 1):
    """`count` stores that share state (replicas): one memory store, or clients of one Redis."""
    if backend == "memory":
        shared = MemoryStore()
        yield [shared] * count
        return
    made = [RedisStore(redis_server.url) for _ in range(count)]
    try:
        yield made
    finally:
        for s in made:
            await s.close()


@BACKENDS
async def test_values_expire_after_their_ttl(backend, redis_server):
    async with stores(backend, redis_server) as (store,):
        await store.set("k", b"v", 0.2)
        assert await store.get("k") == b"v"
        await asyncio.sleep(0.35)
        assert await store.get("k") is None


async def test_memory_store_sweeps_out_what_expired_without_a_read():
    """A key never read again must not hold its value for ever (Redis expires it itself)."""
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    await store.set("facts-of-a-namespace-checked-once", b"x" * 1000, 15)
    await store.set("read-again", b"v", 3600)
    now[0] += SWEEP_SECONDS - 1
    await store.set("another", b"v", 0.5)
    assert len(store._data) == 3  # not swept yet
    now[0] += 1
    await store.set("one-more", b"v", 15)
    assert sorted(store._data) == ["one-more", "read-again"]


@BACKENDS
async def test_seen_set_is_shared_by_replicas(backend, redis_server):
    async with stores(backend, redis_server, 2) as (a, b):
        assert await a.add_once("event:Ev1", 10) is True
        assert await b.add_once("event:Ev1", 10) is False
        assert await b.add_once("event:Ev2", 10) is True


@BACKENDS
async def test_windowed_counter(backend, redis_server):
    async with stores(backend, redis_server) as (store,):
        assert [await store.incr("rate:u", 0.3) for _ in range(3)] == [1, 2, 3]
        await asyncio.sleep(0.45)
        assert await store.incr("rate:u", 0.3) == 1


@BACKENDS
async def test_lock_is_owned_and_handed_over_when_the_holder_dies(backend, redis_server):
    async with stores(backend, redis_server, 2) as (a, b):
        assert await a.acquire("lock:digest", "replica-a", 0.3)
        assert not await b.acquire("lock:digest", "replica-b", 0.3)
        await b.release("lock:digest", "replica-b")  # not the owner: no effect
        assert not await b.acquire("lock:digest", "replica-b", 0.3)
        await asyncio.sleep(0.45)  # replica-a died without releasing: the lock expires
        assert await b.acquire("lock:digest", "replica-b", 0.3)
        await b.release("lock:digest", "replica-b")
        assert await a.acquire("lock:digest", "replica-a", 0.3)


@BACKENDS
async def test_twenty_concurrent_asks_cost_one_diagnosis(backend, redis_server):
    demo = next(s for s in scenarios() if s.name == "demo")
    runs = 0

    async def diagnosis():
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.2)
        return await run_snapshot(demo)

    async with stores(backend, redis_server, 2) as (a, b):
        replicas = [ReportCache(a, 60), ReportCache(b, 60)]
        asks = [replicas[i % 2].get_or_run("meshbot:v1:report:demo", diagnosis) for i in range(20)]
        reports = await asyncio.gather(*asks)
    assert runs == 1
    assert {r.verdict for r in reports} == {"problem"}
    assert sum(r.cached for r in reports) >= 1  # the other replica read the leader's result


async def test_a_leader_that_dies_is_replaced(redis_server):
    """The replica holding the single-flight lock crashes: another takes over after expiry."""
    demo = next(s for s in scenarios() if s.name == "demo")
    a, b = RedisStore(redis_server.url), RedisStore(redis_server.url)
    try:
        key = "meshbot:v1:report:orphan"
        assert await a.acquire(f"{key}:flight", "dead-replica", 0.3)  # and never releases
        cache = ReportCache(b, 60, flight_ttl=5)
        report = await cache.get_or_run(key, lambda: run_snapshot(demo))
        assert report.verdict == "problem" and not report.cached
    finally:
        await a.close()
        await b.close()


async def test_wrong_password_and_no_server_are_store_errors(redis_server):
    locked = RedisServer(password="s3cret").start()
    try:
        good = RedisStore(locked.url)
        await good.set("k", b"v", 5)
        assert await good.get("k") == b"v"
        await good.close()
        bad = RedisStore(locked.url.replace("s3cret", "wrong"))
        with pytest.raises(StoreError):
            await bad.get("k")
        await bad.close()
    finally:
        locked.stop()
    gone = RedisStore(f"redis://127.0.0.1:{redis_server.port + 1}/0")
    with pytest.raises(StoreError):
        await gone.get("k")
    await gone.close()


async def test_rediss_with_a_password_and_a_private_ca():
    server = RedisServer(password="s3cret", tls=True).start()
    try:
        store = RedisStore(server.url)
        assert await store.add_once("tls", 10) is True
        assert await store.add_once("tls", 10) is False
        await store.close()
        untrusted = RedisStore(server.url.split("?")[0])  # the server's CA not given: refused
        with pytest.raises(StoreError):
            await untrusted.get("tls")
        await untrusted.close()
    finally:
        server.close()


async def test_redis_killed_mid_run_and_restarted(redis_server):
    events = []
    store = ResilientStore(RedisStore(redis_server.url), retry_after=0.2,
                           on_error=lambda: events.append("error"),
                           on_degraded=lambda down: events.append("down" if down else "up"))
    try:
        assert await store.add_once("seen:1", 60)
        redis_server.stop()
        # Down: every operation still answers, from memory; the outage is reported once.
        assert await store.add_once("seen:2", 60) is True
        assert await store.add_once("seen:2", 60) is False
        assert store.degraded and events.count("down") == 1
        redis_server.start()
        await asyncio.sleep(0.3)
        await store.set("back", b"yes", 60)  # after the probe interval: Redis again
        assert not store.degraded and events[-1] == "up"
        direct = RedisStore(redis_server.url)
        assert await direct.get("back") == b"yes"
        await direct.close()
    finally:
        await store.close()
