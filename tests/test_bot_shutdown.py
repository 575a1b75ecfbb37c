"""Graceful shutdown: running diagnoses finish within the drain time, or say they were cut."""

from __future__ import annotations

import yaml

from bot.serve import Bot
from bot.settings import Settings
from diagnostics.config import Config
from diagnostics.replay.runner import start_replay
from diagnostics.snapshot import Snapshot
from diagnostics.sources.factory import live_source
from tests.bot_support import DEMO, fast_slack, roots


async def _slow_bot(slack, tmp_path, latency_ms: float):
    servers = await start_replay(Snapshot.open(DEMO), latency_ms=latency_ms)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    settings = Settings(bot_token=slack.bot_token, signing_secret=slack.signing_secret,
                        api_url=slack.api.url, http_port=0)
    bot = Bot(settings, Config(), source=live_source(Config(), kubeconfig=str(kubeconfig)),
              host="127.0.0.1")
    await bot.start(port=0)
    return bot, servers


async def test_a_diagnosis_cut_by_shutdown_says_it_was_interrupted(tmp_path):
    async with fast_slack() as slack:
        bot, servers = await _slow_bot(slack, tmp_path, latency_ms=3000)
        try:
            await slack.client(f"http://127.0.0.1:{bot.port}").slash_command("trust")
            await slack.api.wait_for(lambda: roots(slack), timeout=10)  # "Diagnosing…" is up
            await bot.stop(drain_seconds=0.2)
        finally:
            await servers.close()
        (root,) = roots(slack)
        assert "interrupted: meshbot was restarting" in root.all_text
        assert root.blocks[-1]["elements"][0]["action_id"] == "mesh_rerun"


async def test_a_diagnosis_that_finishes_within_the_drain_is_posted_whole(tmp_path):
    async with fast_slack() as slack:
        bot, servers = await _slow_bot(slack, tmp_path, latency_ms=200)
        try:
            await slack.client(f"http://127.0.0.1:{bot.port}").slash_command("trust")
            await slack.api.wait_for(lambda: roots(slack), timeout=10)
            await bot.stop(drain_seconds=30)
        finally:
            await servers.close()
        (root,) = roots(slack)
        assert "HEALTHY" in root.all_text
        assert len(slack.api.thread("C0GENERAL", root.ts)) == 2  # root + the passed steps
