"""The bot in Socket Mode: envelopes in over a WebSocket, acks back, answers through the Web API."""

from __future__ import annotations

from bot.blocks import RERUN_ACTION
from tests.bot_support import ASK, fast_slack, finished, roots, running_bot


async def _answer(slack, channel="C0GENERAL"):
    def done():
        rs = [m for m in roots(slack, channel) if finished(m)]
        return rs if rs and len(slack.api.thread(channel, rs[0].ts)) > 5 else None
    return await slack.api.wait_for(done, timeout=20)


async def test_slash_command_envelope_is_acked_and_answered_in_a_thread():
    async with fast_slack() as slack, running_bot(slack, socket_mode=True) as bot:
        envelope = await slack.socket.send_slash_command(ASK)
        ack = await slack.socket.wait_for_ack(envelope)
        assert ack.payload in (None, {})  # an empty ack: nothing shown, the thread follows
        (root,) = await _answer(slack)
        assert "PROBLEM" in root.all_text
        await bot.responder.drain(10)


async def test_usage_error_comes_back_in_the_ack_payload():
    async with fast_slack() as slack, running_bot(slack, socket_mode=True):
        envelope = await slack.socket.send_slash_command("why-local-only Bad_Name")
        ack = await slack.socket.wait_for_ack(envelope)
        assert ack.payload["response_type"] == "ephemeral"
        assert "not a valid service name" in ack.payload["text"]


async def test_redelivered_event_is_answered_once():
    async with fast_slack(socket_ack_timeout=0.3) as slack, \
            running_bot(slack, socket_mode=True) as bot:
        # A mention whose first delivery the fake re-sends as if the ack were lost: the bot
        # acks both deliveries (new envelope ids) but answers only once (same event_id).
        callback = slack.socket.payloads.app_mention(f"<@U0MESHBOT> {ASK}")
        first = await slack.socket.send_event(callback)
        await slack.socket.wait_for_ack(first)
        again = await slack.socket.send_event(callback)
        await slack.socket.wait_for_ack(again)
        mention = next(m for m in slack.api.messages("C0GENERAL") if not m.bot_id)
        await slack.api.wait_for(lambda: len(slack.api.thread("C0GENERAL", mention.ts)) > 6,
                                 timeout=20)
        await bot.responder.drain(10)
        answers = [m for m in slack.api.thread("C0GENERAL", mention.ts)
                   if m.bot_id and "PROBLEM" in m.all_text]
        assert len(answers) == 1


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


async def test_rerun_button_over_socket_mode():
    async with fast_slack() as slack, running_bot(slack, socket_mode=True) as bot:
        await slack.socket.wait_for_ack(await slack.socket.send_slash_command("trust"))
        await bot.responder.drain(10)
        (root,) = roots(slack)
        click = await slack.socket.click(channel="C0GENERAL", message_ts=root.ts,
                                         action_id=RERUN_ACTION)
        await slack.socket.wait_for_ack(click)
        await bot.responder.drain(10)
        assert len(roots(slack)) == 2 and "Re-run for fresh" not in roots(slack)[1].all_text
