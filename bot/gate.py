"""Who may run what, where, and how often (contract C5 permissions, per-user rate limit).

Channels listed under `permissions.channels` run only the commands listed for them (help always
works); unlisted channels run everything. A restricted command needs membership of one of its
Slack user groups, looked up with usergroups.users.list and cached. Failing to verify membership
refuses the command: meshbot fails closed on permissions.

`Responder._admitted` is the only caller: every entry point (slash command, mention, button,
new incident channel) reaches its work through it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from diagnostics.config import Permissions
from diagnostics.store.base import KEY_PREFIX, Store, StoreError

GROUP_CACHE_SECONDS = 300.0


@dataclass
class Denial:
    text: str


class Gate:
    def __init__(self, permissions: Permissions, client: AsyncWebClient, store: Store,
                 metrics: Metrics, clock: Callable[[], float] = time.time):
        self.permissions, self.client, self.store = permissions, client, store
        self.metrics, self.clock = metrics, clock
        self.per_minute = permissions.diagnoses_per_user_per_minute
        self._groups: dict[str, tuple[frozenset[str], float]] = {}

    async def check(self, user: str, channel: str, command: str) -> Denial | None:
        """None when the user may run `command` here now; otherwise the reason to show them."""
        if command == "help":
            return None
        allowed = self.permissions.channels.get(channel)
        if allowed is not None and command not in allowed:
            self.metrics.denied.labels(command).inc()
            listed = ", ".join(f"`{c}`" for c in allowed) or "none"
            return Denial(f"`{command}` is not enabled in this channel (enabled here: {listed}).")
        groups = self.permissions.restricted_commands.get(command)
        if groups and not await self._member_of_any(user, groups):
            self.metrics.denied.labels(command).inc()
            mentions = ", ".join(f"<!subteam^{g}>" for g in groups)
            return Denial(f"`{command}` is restricted to members of {mentions}.")
        if not await self._within_rate(user):
            self.metrics.rate_limited.inc()
            return Denial(f"You have asked for {self.per_minute} diagnoses in the last minute; "
                          "please wait a moment and ask again.")
        return None

    async def _member_of_any(self, user: str, groups: list[str]) -> bool:
        for group in groups:
            members = await self._members(group)
            if members is not None and user in members:
                return True
        return False

    async def _members(self, group: str) -> frozenset[str] | None:
        cached = self._groups.get(group)
        if cached and cached[1] > self.clock():
            return cached[0]
        try:
            resp = await self.client.usergroups_users_list(usergroup=group)
        except SlackClientError:
            return None  # cannot verify: treated as not a member
        members = frozenset(resp.get("users") or [])
        self._groups[group] = (members, self.clock() + GROUP_CACHE_SECONDS)
        return members

    async def _within_rate(self, user: str) -> bool:
        window = int(self.clock() // 60)
        try:
            count = await self.store.incr(f"{KEY_PREFIX}rate:{user}:{window}", 90)
        except StoreError:
            return True  # the store is down: do not refuse work because of it
        return count <= self.per_minute
