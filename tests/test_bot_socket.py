"""What only Socket Mode has: the connection's life (hello, disconnects, reconnects)."""

from __future__ import annotations

from tests.bot_support import fast_slack, roots, running_bot


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
