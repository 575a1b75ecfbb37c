"""What only Socket Mode has: the connection's life (hello, disconnects, reconnects)."""

from __future__ import annotations

import logging

from tests.bot_support import fast_slack, roots, running_bot
from tests.slackfake.waiting import wait_for


async def test_reconnects_after_disconnect_and_keeps_answering():
    async with fast_slack() as slack, running_bot(slack, socket_mode=True) as bot:
        await slack.socket.disconnect("refresh_requested")
        await slack.socket.wait_for_connections(2)
        await slack.socket.wait_for_open(1)
        envelope = await slack.socket.send_slash_command("trust")
        await slack.socket.wait_for_ack(envelope)
        await bot.responder.drain(10)
        (root,) = roots(slack)
        assert "HEALTHY" in root.all_text


async def test_readiness_follows_the_connection():
    import aiohttp
    async with fast_slack() as slack, running_bot(slack, socket_mode=True) as bot:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{bot.port}/readyz") as r:
                assert r.status == 200 and (await r.json())["slack"] is True


async def test_a_failed_apps_connections_open_is_one_warning_and_a_retry(caplog):
    """Slack refusing to hand out a Socket Mode URL ends that attempt (one warning, no
    traceback from the SDK); the next attempt asks again and connects."""
    from structlog.testing import capture_logs

    async with fast_slack() as slack:
        slack.api.fail("apps.connections.open", "internal_error", times=1)
        with capture_logs() as logs:
            async with running_bot(slack, socket_mode=True) as bot:
                # the fake server sees the socket open a moment before the SDK says so
                await wait_for(bot._slack_connected, message="the bot connected on its retry")
                envelope = await slack.socket.send_slash_command("trust")
                await slack.socket.wait_for_ack(envelope)
                await bot.responder.drain(10)
        assert [c.response["ok"] for c in slack.api.calls("apps.connections.open")] == [False, True]
        (failed,) = [e for e in logs if e["event"] == "slack_connect_failed"]
        assert failed["attempt"] == 1 and "internal_error" in failed["error"]
        assert failed["log_level"] == "warning"
        (connected,) = [e for e in logs if e["event"] == "slack_connected"]
        assert connected["attempts"] == 2
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
        (root,) = roots(slack)
        assert "HEALTHY" in root.all_text
