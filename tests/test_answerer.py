"""The Answerer bounds how many diagnoses run at once: checks are CPU work sharing one
interpreter with Slack traffic, and each diagnosis of a large mesh holds its facts in memory."""

from __future__ import annotations

import asyncio
from collections import Counter

from diagnostics.sources import metering
from diagnostics.sources.snapshot import SnapshotSource
from handlers.commands import parse
from handlers.run import Answerer
from tests.bot_support import DEMO


class SlowSource(SnapshotSource):
    """The demo mesh, each list taking a while; records which diagnoses have reads in flight."""

    def __init__(self, inner: SnapshotSource):
        super().__init__(inner.snapshot)
        self.in_flight: Counter[int] = Counter()  # id of the diagnosis' call counter -> reads
        self.most_at_once = 0

    async def list(self, cluster, resource, namespace, label_selector=None):
        diagnosis = id(metering._current.get())
        self.in_flight[diagnosis] += 1
        self.most_at_once = max(self.most_at_once, len(+self.in_flight))
        try:
            await asyncio.sleep(0.02)
            return await super().list(cluster, resource, namespace, label_selector)
        finally:
            self.in_flight[diagnosis] -= 1


async def _ask_six(max_concurrent: int | None) -> int:
    source = SlowSource(SnapshotSource.open(DEMO))
    answerer = Answerer(source, max_concurrent=max_concurrent)
    reports = await asyncio.gather(*(answerer.answer(parse("trust", terminal=False))
                                     for _ in range(6)))
    assert all(r.verdict == "healthy" for r in reports)
    return source.most_at_once


async def test_at_most_max_concurrent_diagnoses_read_at_once():
    assert await _ask_six(max_concurrent=2) == 2


async def test_without_a_bound_all_asks_read_at_once():
    assert await _ask_six(max_concurrent=None) == 6
