"""Slack re-delivers: event retries, Socket Mode re-deliveries, a mention seen as two events.

Every delivery is recorded under a key on receipt, before any work starts; a key seen before
means "already answered". Keys live in the shared store so replicas agree; if the store is down
a local set keeps this replica from answering twice.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.metrics import Metrics
from diagnostics.store.base import KEY_PREFIX, Store, StoreError

SEEN_TTL = 900.0  # Slack's retries span about six minutes
LOCAL_MAX = 10_000


class Deduper:
    def __init__(self, store: Store, metrics: Metrics, ttl: float = SEEN_TTL):
        self.store, self.metrics, self.ttl = store, metrics, ttl
        self._local: OrderedDict[str, None] = OrderedDict()

    async def first(self, kind: str, key: str) -> bool:
        """True the first time (kind, key) is seen; False for a duplicate delivery."""
        full = f"{KEY_PREFIX}seen:{kind}:{key}"
        local_new = full not in self._local
        self._local[full] = None
        while len(self._local) > LOCAL_MAX:
            self._local.popitem(last=False)
        try:
            new = await self.store.add_once(full, self.ttl)
        except StoreError:
            new = local_new
        if not new:
            self.metrics.duplicates.labels(kind).inc()
        return new
