"""The morning digest: schedules in time zones across DST, the grace period, one poster among
replicas, the content of quiet and broken meshes, the change list, and the trend chart.

Time is injected everywhere: nothing waits for 9 am.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from bot import digest_schedule
from bot.digest import DigestPublisher
from bot.digest_schedule import DigestScheduler, last_due
from bot.metrics import Metrics
from bot.poster import Poster, web_client
from diagnostics.config import Config, DigestConfig
from diagnostics.snapshot import Snapshot
from diagnostics.sources.snapshot import SnapshotSource
from diagnostics.store.memory import MemoryStore
from diagnostics.store.redis_store import RedisStore
from handlers.run import Answerer
from tests.bot_support import DEMO, REPO, fast_slack, running_bot, url
from tests.slackfake.state import all_text

UTC = timezone.utc
HEALTHY = REPO / "tests" / "scenarios" / "healthy" / "snapshot"
MORNING = DigestConfig(channel="C0GENERAL", cron="0 9 * * 1-5", timezone="Europe/Berlin")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("now, due", [
    (utc(2026, 3, 27, 8, 0, 5), utc(2026, 3, 27, 8, 0)),     # Friday 09:00 CET = 08:00 UTC
    (utc(2026, 3, 30, 7, 0, 5), utc(2026, 3, 30, 7, 0)),     # Monday after spring-forward: CEST
    (utc(2026, 3, 29, 12, 0), utc(2026, 3, 27, 8, 0)),       # the weekend has no digest
    (utc(2026, 10, 26, 8, 0, 5), utc(2026, 10, 26, 8, 0)),   # Monday after fall-back: CET again
])
def test_due_times_follow_the_zone_across_daylight_saving(now, due):
    assert last_due(MORNING, now) == due


def test_nonexistent_and_repeated_local_times_are_due_once():
    nightly = DigestConfig(channel="C", cron="30 2 * * *", timezone="Europe/Berlin")
    # 02:30 does not exist on spring-forward day: due at 03:00 CEST (01:00 UTC), like cron.
    assert last_due(nightly, utc(2026, 3, 29, 1, 5)) == utc(2026, 3, 29, 1, 0)
    # 02:30 happens twice on fall-back day: due at the first one only.
    for now in (utc(2026, 10, 25, 0, 40), utc(2026, 10, 25, 1, 40)):
        assert last_due(nightly, now) == utc(2026, 10, 25, 0, 30)


class Recorder:
    def __init__(self):
        self.calls: list[datetime] = []

    async def __call__(self, entry, history, due):
        self.calls.append(due)
        return "posted"


async def test_posts_at_its_minute_once_and_within_the_grace_period_only():
    publish = Recorder()
    scheduler = DigestScheduler([MORNING], MemoryStore(), publish)
    assert await scheduler.tick(utc(2026, 3, 30, 6, 59, 50)) == []          # 08:59:50 local
    assert await scheduler.tick(utc(2026, 3, 30, 7, 0, 10)) == ["posted"]
    assert await scheduler.tick(utc(2026, 3, 30, 7, 0, 30)) == ["already posted"]
    # A replica that was down at 09:00 and ticks first at 09:05 still posts, once.
    late = DigestScheduler([MORNING], MemoryStore(), Recorder())
    assert await late.tick(utc(2026, 3, 31, 7, 5)) == ["posted"]
    # One that comes back at 13:00 does not post a stale morning digest.
    stale = DigestScheduler([MORNING], MemoryStore(), Recorder())
    assert await stale.tick(utc(2026, 4, 1, 11, 0)) == []
    assert publish.calls == [utc(2026, 3, 30, 7, 0)]


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_two_replicas_never_duplicate_a_digest(backend, redis_server):
    publish = Recorder()
    stores = [MemoryStore()] * 2 if backend == "memory" else \
        [RedisStore(redis_server.url), RedisStore(redis_server.url)]
    try:
        a, b = (DigestScheduler([MORNING], s, publish) for s in stores)
        at = utc(2026, 3, 30, 7, 0, 10)
        results = await asyncio.gather(a.tick(at), b.tick(at), a.tick(at), b.tick(at))
        assert len(publish.calls) == 1
        assert sorted(r for rs in results for r in rs).count("posted") == 1
    finally:
        for s in stores:
            await s.close()


async def test_a_replica_that_dies_while_posting_is_replaced(monkeypatch):
    monkeypatch.setattr(digest_schedule, "LOCK_TTL", 0.2)
    store = MemoryStore()
    due = DigestScheduler([MORNING], store, Recorder()).due(utc(2026, 3, 30, 7, 0, 10))[0]
    await store.acquire(f"{due.key}:lock", "dead-replica", 0.2)  # died mid-post
    survivor = DigestScheduler([MORNING], store, Recorder())
    assert await survivor.tick(utc(2026, 3, 30, 7, 0, 20)) == ["another replica is posting"]
    await asyncio.sleep(0.3)
    assert await survivor.tick(utc(2026, 3, 30, 7, 1)) == ["posted"]


def publisher(slack, snapshot, store):
    metrics = Metrics()
    answerer = Answerer(SnapshotSource(Snapshot.open(snapshot)))
    return DigestPublisher(answerer, Poster(web_client(slack.bot_token, slack.api_base_url,
                                                       metrics), metrics), store)


def bot_roots(slack):
    return [m for m in slack.api.messages("C0GENERAL") if m.bot_id and not m.is_reply]


async def test_broken_mesh_digest_then_the_fix_shows_in_the_change_list_and_the_chart():
    store = MemoryStore()
    async with fast_slack() as slack:
        broken = await publisher(slack, DEMO, store).publish("C0GENERAL", trigger="test",
                                                             history="morning")
        fixed = await publisher(slack, HEALTHY, store).publish("C0GENERAL", trigger="test",
                                                               history="morning")
        assert (broken, fixed) == ("posted", "posted")
        first, second = bot_roots(slack)
        assert "Mesh health digest" in first.all_text and "PROBLEM" in first.all_text
        assert "cluster1*: Remote secrets" in first.all_text
        thread = slack.api.thread("C0GENERAL", first.ts)[1:]
        assert "First digest here" in thread[0].all_text
        assert any("remote-secret-missing" in m.all_text for m in thread)
        assert "HEALTHY" in second.all_text and "1 resolved" in second.all_text
        changes = slack.api.thread("C0GENERAL", second.ts)[1]
        assert "resolved: istiod in cluster1 has no remote secret for cluster2" in changes.all_text
        files = {(f.filename, f.thread_ts): f for f in slack.api.files()}
        # the broken mesh's picture beside its digest; the chart once there are two digests,
        # and then the picture too (the fixed mesh's thread lists what was resolved)
        assert set(files) == {("mesh-topology.png", first.ts), ("mesh-health-trend.png",
                                                                 second.ts),
                              ("mesh-topology.png", second.ts)}
        assert all(f.content.startswith(b"\x89PNG") for f in files.values())


async def test_quiet_mesh_gets_a_short_green_digest_or_none():
    async with fast_slack() as slack:
        store = MemoryStore()
        assert await publisher(slack, HEALTHY, store).publish(
            "C0GENERAL", trigger="t", history="h", skip_if_healthy=True) == "skipped"
        assert not bot_roots(slack)
        assert await publisher(slack, HEALTHY, store).publish(
            "C0GENERAL", trigger="t", history="h") == "posted"
        (root,) = bot_roots(slack)
        assert "HEALTHY" in root.all_text and "0 errors" in root.all_text
        assert slack.api.thread("C0GENERAL", root.ts) == [root]  # short: no thread


async def test_the_bot_posts_its_configured_digest_once_and_on_demand():
    config = Config(digests=[MORNING])
    async with fast_slack() as slack, running_bot(slack, config=config) as bot:
        assert await bot.scheduler.tick(utc(2026, 3, 30, 7, 0, 10)) == ["posted"]
        assert await bot.scheduler.tick(utc(2026, 3, 30, 7, 1)) == ["already posted"]
        (scheduled,) = bot_roots(slack)
        assert "Scheduled digest (`0 9 * * 1-5`, Europe/Berlin), due Mon 30 Mar 09:00 CEST" \
            in scheduled.all_text
        await slack.client(url(bot)).slash_command("digest")
        await bot.responder.drain(20)
        on_demand = bot_roots(slack)[1]
        assert "Asked by <@U0ALICE>" in on_demand.all_text
        assert "Since the last digest" in on_demand.all_text  # shares the channel's history
        assert {f.filename for f in slack.api.files()} == {"mesh-health-trend.png",
                                                           "mesh-topology.png"}
        assert all_text(on_demand.blocks).count("Mesh health digest") == 1
