"""What only HTTP mode has: Slack's request signatures, and readiness after auth.test."""

from __future__ import annotations

import aiohttp
import pytest

from tests.bot_support import ASK, fast_slack, running_bot, url


@pytest.mark.parametrize("how", ["forged", "stale"])
async def test_bad_signatures_get_401_and_nothing_runs(how):
    async with fast_slack() as slack, running_bot(slack) as bot:
        kw = {"signature": "v0=" + "0" * 64} if how == "forged" else {"timestamp": 1_000_000}
        resp = await slack.client(url(bot)).slash_command(ASK, **kw)
        assert resp.status == 401
        assert not bot.responder.tasks and not slack.api.calls("chat.postMessage")


async def test_url_verification_is_answered():
    async with fast_slack() as slack, running_bot(slack) as bot:
        resp = await slack.client(url(bot)).url_verification("challenge-123")
        assert resp.status == 200 and resp.json() == {"challenge": "challenge-123"}


async def test_health_and_readiness():
    async with fast_slack() as slack, running_bot(slack) as bot:
        async with aiohttp.ClientSession() as http:
            async with http.get(url(bot) + "/healthz") as r:
                assert r.status == 200
            await slack.api.wait_for(lambda: bot._authenticated)
            async with http.get(url(bot) + "/readyz") as r:
                body = await r.json()
                assert r.status == 200 and body["status"] == "ready" and body["slack"]
