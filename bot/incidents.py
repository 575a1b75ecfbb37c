"""Alert groups as Slack threads: one per group key, updated while it fires, closed on resolve.

Alertmanager re-sends a group every group_interval and HA peers may both deliver it; each
notification is recorded on receipt (seen-set) and a group is handled by one writer at a time
(a lock in the store), with its thread kept in the store under the group key. A repeat updates
the root message; new alerts in the group re-run the checks; a resolution posts "resolved" and
edits the root; a group that resolves and fires again within the flap window reuses its thread
and stays quiet after a few flaps.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable

from bot import logs
from bot.alert_routing import commands_for, route
from bot.alerts import FIRING, Notification
from bot.answer_blocks import thread
from bot.blocks import incident_message, text_message
from bot.metrics import Metrics
from bot.poster import Poster
from diagnostics.config import Incidents as IncidentsConfig
from diagnostics.model import Report
from diagnostics.store.base import KEY_PREFIX, Store
from handlers.base import Request
from handlers.commands import parse
from handlers.run import Answerer

log = logs.get("meshbot.incidents")
STATE_TTL = 7 * 24 * 3600.0
DUPLICATE_WINDOW = 60.0  # HA peers deliver the same notification within seconds; repeats come
# every group_interval (minutes) and must update the thread, so identical content is a duplicate
# only inside this window
LOCK_TTL = 120.0
FLAP_WINDOW = 600.0
QUIET_AFTER_FLAPS = 3
VERDICT_WEIGHT = {"problem": 3, "inconclusive": 2, "expected": 1, "healthy": 0}


@dataclass
class GroupState:
    """What is remembered about an alert group's thread."""

    channel: str
    root_ts: str
    status: str
    first_seen: float
    last_notified: float
    notified: int = 1
    fingerprints: list[str] = field(default_factory=list)
    resolved_at: float | None = None
    flaps: int = 0
    verdict: str = ""
    summary: str = ""
    commands: list[str] = field(default_factory=list)


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M UTC")


class Incidents:
    def __init__(self, config: IncidentsConfig, store: Store, poster: Poster, answerer: Answerer,
                 metrics: Metrics, clusters: list[str], clock: Callable[[], float] = time.time,
                 flap_window: float = FLAP_WINDOW, duplicate_window: float = DUPLICATE_WINDOW):
        self.config, self.store, self.poster, self.answerer = config, store, poster, answerer
        self.metrics, self.clusters, self.clock = metrics, clusters, clock
        self.flap_window, self.duplicate_window = flap_window, duplicate_window

    def _key(self, group_key: str) -> str:
        return f"{KEY_PREFIX}incident:{hashlib.sha256(group_key.encode()).hexdigest()[:32]}"

    async def handle(self, n: Notification) -> str:
        """Act on one notification; returns what happened (for metrics and tests)."""
        channel = route(n, self.config.alertmanager_routes)
        if channel is None:
            return self._outcome(n, "unrouted")
        if not await self.store.add_once(f"{KEY_PREFIX}seen:alert:{n.identity}",
                                         self.duplicate_window):
            return self._outcome(n, "duplicate")
        key, owner = self._key(n.group_key), uuid.uuid4().hex
        if not await self._lock(key, owner):
            return self._outcome(n, "busy")
        try:
            state = await self._load(key)
            if n.status == FIRING:
                outcome, state = await self._firing(n, channel, state)
            else:
                outcome, state = await self._resolved(n, state)
            if state is not None:
                await self.store.set(key, json.dumps(asdict(state)).encode(), STATE_TTL)
            return self._outcome(n, outcome)
        finally:
            await self.store.release(f"{key}:lock", owner)

    def _outcome(self, n: Notification, outcome: str) -> str:
        self.metrics.alertmanager.labels(n.status, outcome).inc()
        log.info("alert_notification", group=n.group_key, status=n.status, outcome=outcome,
                 alerts=len(n.alerts))
        return outcome

    async def _lock(self, key: str, owner: str) -> bool:
        """Wait for the group's single writer (another replica, an earlier notification)."""
        deadline = self.clock() + LOCK_TTL
        while self.clock() < deadline:
            if await self.store.acquire(f"{key}:lock", owner, LOCK_TTL):
                return True
            await asyncio.sleep(0.1)
        return False

    async def _load(self, key: str) -> GroupState | None:
        raw = await self.store.get(key)
        if raw is None:
            return None
        try:
            return GroupState(**json.loads(raw))
        except (ValueError, TypeError):
            return None

    # -- firing -----------------------------------------------------------------------------

    async def _firing(self, n: Notification, channel: str, state: GroupState | None
                      ) -> tuple[str, GroupState | None]:
        now = self.clock()
        fingerprints = sorted(a.fingerprint for a in n.firing)
        if state is None or (state.status != FIRING and state.resolved_at is not None
                             and now - state.resolved_at > self.flap_window):
            return await self._open(n, channel, fingerprints)
        state.notified += 1
        state.last_notified = now
        if state.status != FIRING:  # resolved a moment ago and firing again: a flap
            state.status, state.flaps = FIRING, state.flaps + 1
            if state.flaps <= QUIET_AFTER_FLAPS:
                await self.poster.post(state.channel, text_message(
                    f":repeat: Firing again at {_hhmm(now)} (resolved at "
                    f"{_hhmm(state.resolved_at or now)}; flap {state.flaps})."), state.root_ts)
            state.resolved_at = None
            await self._update_root(n, state)
            return "reopened", state
        added = [f for f in fingerprints if f not in state.fingerprints]
        state.fingerprints = sorted(set(state.fingerprints) | set(fingerprints))
        if added:
            await self.poster.post(state.channel, text_message(
                f":heavy_plus_sign: {len(added)} new alert(s) in this group at {_hhmm(now)}; "
                "checking again."), state.root_ts)
            await self._diagnose_into(n, state)
            await self._update_root(n, state)
            return "rechecked", state
        await self._update_root(n, state)
        return "updated", state

    async def _open(self, n: Notification, channel: str, fingerprints: list[str]
                    ) -> tuple[str, GroupState | None]:
        now = self.clock()
        commands = commands_for(n.labels, self.clusters)
        state = GroupState(channel, "", FIRING, now, now, fingerprints=fingerprints,
                           commands=commands, summary="checking the mesh…")
        root = await self.poster.post(channel, incident_message(n, asdict(state)))
        if root is None and await self.poster.join(channel):
            root = await self.poster.post(channel, incident_message(n, asdict(state)))
        if root is None:
            return "not_posted", None
        state.root_ts = root
        await self._diagnose_into(n, state)
        await self._update_root(n, state)
        return "opened", state

    async def _diagnose_into(self, n: Notification, state: GroupState) -> None:
        """Run the group's runbooks and post each one's answer into the incident thread."""
        reports: list[Report] = []
        for text in state.commands:
            request = parse(text, terminal=False)
            assert isinstance(request, Request)
            try:
                report = await self.answerer.answer(request, fresh=True)
            except Exception as exc:  # noqa: BLE001 - one failed runbook must not hide the rest
                await self.poster.post(state.channel, text_message(
                    f"`/mesh {text}` could not finish: {type(exc).__name__}: {exc}"), state.root_ts)
                continue
            reports.append(report)
            for message in thread(report, text):
                await self.poster.post(state.channel, message, state.root_ts)
        if reports:
            worst = max(reports, key=lambda r: VERDICT_WEIGHT.get(r.verdict, 0))
            state.verdict, state.summary = worst.verdict, worst.summary

    async def _update_root(self, n: Notification, state: GroupState) -> None:
        await self.poster.update(state.channel, state.root_ts, incident_message(n, asdict(state)))

    # -- resolved ---------------------------------------------------------------------------

    async def _resolved(self, n: Notification, state: GroupState | None
                        ) -> tuple[str, GroupState | None]:
        if state is None or state.status != FIRING:
            return "ignored", state
        now = self.clock()
        state.status, state.resolved_at, state.last_notified = "resolved", now, now
        state.notified += 1
        await self.poster.post(state.channel, text_message(
            f":white_check_mark: Resolved at {_hhmm(now)} (Alertmanager: "
            f"{n.reason or 'all alerts resolved'})."), state.root_ts)
        await self._update_root(n, state)
        return "resolved", state
