"""Finished reports, cached and shared: identical asks within the TTL cost one diagnosis.

The cache key is what determines the answer: command, arguments, clusters read and examined,
and the identity of the source (a snapshot path, or the live contexts). Values are the report's
JSON, compressed when large; keys carry a layout version so a new release never reads an old
layout. Concurrent identical asks in this process join one running diagnosis (single-flight).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
import zlib
from typing import Awaitable, Callable

from diagnostics.engine import Plan
from diagnostics.model import Report
from diagnostics.store.base import KEY_PREFIX, Store, StoreError

COMPRESS_ABOVE = 1024
_RAW, _ZLIB = b"j", b"z"


def report_key(plan: Plan, source_identity: str) -> str:
    material = json.dumps({"command": plan.command, "args": plan.args,
                           "clusters": plan.clusters, "focus": plan.focus,
                           "checks": [c.name for c in plan.checks],
                           "source": source_identity}, sort_keys=True)
    return f"{KEY_PREFIX}report:{hashlib.sha256(material.encode()).hexdigest()[:32]}"


def encode(report: Report) -> bytes:
    raw = json.dumps(report.to_dict(), separators=(",", ":")).encode()
    return _ZLIB + zlib.compress(raw) if len(raw) > COMPRESS_ABOVE else _RAW + raw


def decode(blob: bytes) -> Report:
    body = zlib.decompress(blob[1:]) if blob[:1] == _ZLIB else blob[1:]
    return Report.from_dict(json.loads(body))


POLL_SECONDS = 0.1


class ReportCache:
    """Report cache over a Store, with single-flight within this process and, through a lock
    in the store, across replicas; store faults mean 'no cache', never a lost answer."""

    def __init__(self, store: Store, ttl: float = 60.0,
                 on_event: Callable[[str], None] | None = None, flight_ttl: float = 60.0):
        self.store, self.ttl, self.flight_ttl = store, ttl, flight_ttl
        self._flights: dict[str, asyncio.Future] = {}
        self._on_event = on_event or (lambda _event: None)

    async def _get(self, key: str) -> Report | None:
        try:
            blob = await self.store.get(key)
        except StoreError:
            self._on_event("store_error")
            return None
        if blob is None:
            return None
        try:
            report = decode(blob)
        except (ValueError, KeyError, zlib.error):
            return None  # an unreadable value is a miss, never a crash
        report.cached = True
        return report

    async def _put(self, key: str, report: Report) -> None:
        if self.ttl <= 0:
            return
        try:
            await self.store.set(key, encode(report), self.ttl)
        except StoreError:
            self._on_event("store_error")

    async def get_or_run(self, key: str, run: Callable[[], Awaitable[Report]],
                         fresh: bool = False) -> Report:
        """A cached report, a share of the identical diagnosis already running, or a new one."""
        if not fresh:
            cached = await self._get(key)
            if cached is not None:
                self._on_event("hit")
                return cached
        flight = self._flights.get(key)
        if flight is not None:
            self._on_event("joined")
            return await asyncio.shield(flight)
        self._on_event("miss")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._flights[key] = future
        try:
            report = await self._across_replicas(key, run, fresh)
            future.set_result(report)
            return report
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # joiners re-raise it; mark retrieved for the leader
            raise
        finally:
            self._flights.pop(key, None)

    async def _across_replicas(self, key: str, run: Callable[[], Awaitable[Report]],
                               fresh: bool) -> Report:
        """Lead the diagnosis under a lock in the store, or wait for the replica that does.

        A leader that dies leaves a lock that expires; a waiter that finds the lock free and no
        result takes over. Without a cache to hand results over, there is nothing to wait for.
        """
        if fresh or self.ttl <= 0:
            return await self._run_and_put(key, run)
        owner, lock = uuid.uuid4().hex, f"{key}:flight"
        deadline = time.monotonic() + self.flight_ttl
        while True:
            if await self._acquire(lock, owner):
                try:
                    return await self._run_and_put(key, run)
                finally:
                    await self._release(lock, owner)
            if time.monotonic() > deadline:
                return await self._run_and_put(key, run)
            await asyncio.sleep(POLL_SECONDS)
            cached = await self._get(key)
            if cached is not None:
                self._on_event("joined")
                return cached

    async def _run_and_put(self, key: str, run: Callable[[], Awaitable[Report]]) -> Report:
        report = await run()
        await self._put(key, report)
        return report

    async def _acquire(self, lock: str, owner: str) -> bool:
        try:
            return await self.store.acquire(lock, owner, self.flight_ttl)
        except StoreError:
            return True  # cannot coordinate: run it here rather than wait for nobody

    async def _release(self, lock: str, owner: str) -> None:
        try:
            await self.store.release(lock, owner)
        except StoreError:
            pass
