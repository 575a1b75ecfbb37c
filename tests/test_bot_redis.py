"""Replicas sharing Redis answer each event once and share answers; without Redis they still
answer everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import aiohttp

from tests.bot_support import ASK, DEMO, REPO, fast_slack, roots, running_bot, url


async def test_two_replicas_never_answer_one_event_twice(redis_server):
    async with fast_slack() as slack, \
            running_bot(slack, redis_url=redis_server.url) as a, \
            running_bot(slack, redis_url=redis_server.url) as b:
        first = await slack.client(url(a)).app_mention(f"<@U0MESHBOT> {ASK}")
        # Slack's retry of the same event lands on the other replica (HTTP mode behind a Service).
        retry = await slack.client(url(b)).retry(first, num=1, reason="http_timeout")
        assert first.status == retry.status == 200

        def duplicates() -> float:
            return sum(bot.metrics.duplicates.labels("event")._value.get() for bot in (a, b))

        def answers():
            mention = next(m for m in slack.api.messages("C0GENERAL") if not m.bot_id)
            return [m for m in slack.api.thread("C0GENERAL", mention.ts)
                    if m.bot_id and "PROBLEM" in m.all_text]
        # bolt runs event listeners after the HTTP ack: wait until both replicas have seen
        # their delivery (one answered, one recognised the retry) before settling
        await slack.api.wait_for(lambda: duplicates() == 1 and answers(), timeout=20)
        await a.responder.drain(20)
        await b.responder.drain(20)
        assert len(answers()) == 1 and duplicates() == 1


async def test_identical_asks_on_two_replicas_cost_one_diagnosis(redis_server):
    async with fast_slack() as slack, \
            running_bot(slack, redis_url=redis_server.url) as a, \
            running_bot(slack, redis_url=redis_server.url) as b:
        await slack.client(url(a)).slash_command(ASK)
        await a.responder.drain(20)
        await slack.client(url(b)).slash_command(ASK, user="U0BOB")
        await b.responder.drain(20)
        first, second = roots(slack)
        assert "Re-run for fresh" not in first.all_text
        assert "Re-run for fresh" in second.all_text and "PROBLEM" in second.all_text
        assert b.metrics.cache.labels("hit")._value.get() == 1


async def test_with_redis_stopped_every_command_still_answers(redis_server):
    async with fast_slack() as slack, running_bot(slack, redis_url=redis_server.url) as bot:
        client = slack.client(url(bot))
        await client.slash_command("trust")
        await bot.responder.drain(20)
        redis_server.stop()
        await client.slash_command(ASK)
        await client.app_mention("<@U0MESHBOT> trust")
        await bot.responder.drain(20)
        assert len(roots(slack)) == 2  # the trust root and the why-local-only root
        mention = next(m for m in slack.api.messages("C0GENERAL") if not m.bot_id)
        assert any("HEALTHY" in m.all_text for m in slack.api.thread("C0GENERAL", mention.ts))
        async with aiohttp.ClientSession() as http:
            await slack.api.wait_for(lambda: bot._authenticated)
            async with http.get(url(bot) + "/readyz") as r:
                body = await r.json()
            async with http.get(url(bot) + "/metrics") as r:
                metrics = await r.text()
        assert r.status == 200 and body["status"] == "degraded" and body["store"] == "degraded"
        assert "meshbot_store_degraded 1.0" in metrics


def _cli(*args: str, redis_url: str) -> dict:
    env = {**os.environ, "REDIS_URL": redis_url, "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "mesh", *args, "--snapshot",
                           str(DEMO), "--output", "json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    return json.loads(proc.stdout)


def test_terminal_shares_answers_through_redis_and_no_cache_bypasses(redis_server):
    assert _cli("trust", redis_url=redis_server.url)["cached"] is False
    assert _cli("trust", redis_url=redis_server.url)["cached"] is True
    assert _cli("trust", "--no-cache", redis_url=redis_server.url)["cached"] is False
