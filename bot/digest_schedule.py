"""Digests at their cron minute, in their time zone, posted once however many replicas run.

Each tick asks, for every configured digest, when it was last due (cron evaluated in the entry's
IANA time zone, daylight-saving changes included, by cronsim). A due time less than the grace
period ago that no replica has posted yet is posted now: so a replica that was down at 09:00
still posts at 09:05, but one that comes back at 13:00 does not post a stale morning digest.
A lock and a done-marker in the shared store make exactly one replica post each due time; if
that replica dies while posting, its lock expires and another takes over within the grace.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable
from zoneinfo import ZoneInfo

from cronsim import CronSim

from bot import logs
from diagnostics.config import DigestConfig
from diagnostics.store.base import KEY_PREFIX, Store

log = logs.get("meshbot.digest")
LOCK_TTL = 300.0
TICK_SECONDS = 20.0

Publish = Callable[[DigestConfig, str, datetime], Awaitable[str]]


def entry_id(entry: DigestConfig) -> str:
    return hashlib.sha256(f"{entry.channel}|{entry.cron}|{entry.timezone}".encode()).hexdigest()[:16]


def last_due(entry: DigestConfig, now: datetime) -> datetime:
    """The most recent scheduled time at or before `now`, as an aware datetime in UTC."""
    local = now.astimezone(ZoneInfo(entry.timezone)).replace(microsecond=0) + timedelta(seconds=1)
    return next(CronSim(entry.cron, local, reverse=True)).astimezone(timezone.utc)


@dataclass
class Due:
    entry: DigestConfig
    at: datetime

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}digest-done:{entry_id(self.entry)}:{self.at.strftime('%Y%m%dT%H%M')}"


class DigestScheduler:
    def __init__(self, entries: list[DigestConfig], store: Store, publish: Publish,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.entries, self.store, self.publish, self.clock = entries, store, publish, clock
        self._stop = asyncio.Event()

    def due(self, now: datetime) -> list[Due]:
        out = []
        for entry in self.entries:
            at = last_due(entry, now)
            if timedelta(0) <= now - at <= timedelta(minutes=entry.grace_minutes):
                out.append(Due(entry, at))
        return out

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Post every digest that is due and not yet posted; returns what happened to each."""
        now = now or self.clock()
        return [await self._post_once(due) for due in self.due(now)]

    async def _post_once(self, due: Due) -> str:
        if await self.store.get(due.key):
            return "already posted"
        owner = uuid.uuid4().hex
        if not await self.store.acquire(f"{due.key}:lock", owner, LOCK_TTL):
            return "another replica is posting"
        try:
            if await self.store.get(due.key):  # posted while we waited for the lock
                return "already posted"
            outcome = await self.publish(due.entry, entry_id(due.entry), due.at)
            keep = due.entry.grace_minutes * 60 + LOCK_TTL
            await self.store.set(due.key, outcome.encode(), keep)
            log.info("scheduled_digest", channel=due.entry.channel, due=due.at.isoformat(),
                     outcome=outcome)
            return outcome
        finally:
            await self.store.release(f"{due.key}:lock", owner)

    async def run(self) -> None:
        """Tick until stopped; a failing tick is logged and the next one tries again."""
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the scheduler must outlive one bad tick
                log.exception("digest_tick_failed")
            try:
                await asyncio.wait_for(self._stop.wait(), TICK_SECONDS)
            except asyncio.TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()
