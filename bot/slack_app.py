"""The slack-bolt AsyncApp: listeners that ack at once and hand the work to the responder.

Every listener acks before anything slow happens (Slack's 3-second rule; target: milliseconds),
and every delivery is de-duplicated on receipt (event retries, Socket Mode re-deliveries,
button double-clicks). A listener only parses and hands the ask to `Responder.spawn`, whose task
passes the gate (bot/gate.py) before any work: a listener that did work itself would bypass it
(tests/test_gate.py enumerates the listeners registered here and proves each one is gated).
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.blocks import DETAILS_ACTION, RERUN_ACTION
from bot.dedupe import Deduper
from bot.incident_channels import SNAPSHOT_COMMAND, IncidentChannels
from bot.responder import Ask, Responder, usage_message
from bot.uploads import with_files
from handlers.base import TextReply
from handlers.grammar import UsageError

log = logs.get("meshbot.slack")
# Bounded repeats keep this linear on hostile text (a long message of unclosed `<@U|`).
_MENTION = re.compile(r"<@[A-Z0-9]{1,32}(?:\|[^>]{0,256})?>")


def strip_mentions(text: str) -> str:
    return _MENTION.sub(" ", text or "").strip()


def build_app(client: AsyncWebClient, responder: Responder, deduper: Deduper, *,
              signing_secret: str | None, socket_mode: bool,
              channels: IncidentChannels | None = None) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret=signing_secret or "socket-mode-unused",
                   request_verification_enabled=not socket_mode,
                   process_before_response=False, logger=None)

    @app.command("/mesh")
    async def on_mesh(ack: Any, body: dict, context: dict) -> None:
        if not await deduper.first("command", str(body.get("trigger_id") or body)):
            await ack()
            return
        ask = Ask(str(body.get("text") or ""), body.get("user_id", ""), body.get("channel_id", ""),
                  "slash", response_url=body.get("response_url"),
                  bot_user=context.get("bot_user_id"))
        try:
            parsed = responder.parse(ask)
        except UsageError as exc:
            await ack(response_type="ephemeral", text=usage_message(exc))
            return
        if isinstance(parsed, TextReply):
            await ack(response_type="ephemeral", text=f"```{parsed.text}```")
            return
        await ack()
        responder.spawn(ask, parsed)

    @app.event("app_mention")
    async def on_mention(body: dict, event: dict, context: dict) -> None:
        if not await _first_event(deduper, body, event):
            return
        thread_ts = event.get("thread_ts") or event.get("ts")
        ask = Ask(strip_mentions(event.get("text", "")), event.get("user", ""),
                  event.get("channel", ""), "mention", thread_ts=thread_ts,
                  bot_user=context.get("bot_user_id"))
        await _hand_over(responder, with_files(ask, event))  # files: an upload to diagnose

    @app.event({"type": "message", "subtype": "file_share"})
    async def on_file_share(body: dict, event: dict) -> None:
        """Archives shared in meshbot's DM, the command as their comment (in a channel the
        mention carries them); registered before on_message, which would take any message."""
        if event.get("channel_type") != "im" or not await _first_event(deduper, body, event):
            return
        ask = with_files(Ask(strip_mentions(event.get("text", "")), event.get("user", ""),
                             event.get("channel", ""), "dm",
                             thread_ts=event.get("thread_ts") or event.get("ts")), event)
        if ask.files:
            await _hand_over(responder, ask)

    @app.event("message")
    async def on_message() -> None:
        """Plain messages need no answer; acknowledging them keeps Slack from retrying."""

    @app.event("channel_created")
    async def on_channel_created(body: dict, event: dict) -> None:
        """A new incident channel gets a health snapshot, as if its creator had asked."""
        channel = event.get("channel") or {}
        name, channel_id = str(channel.get("name") or ""), str(channel.get("id") or "")
        if channels is None or not channel_id or not channels.matches(name):
            return
        if await deduper.first("event", str(body.get("event_id") or channel_id)):
            ask = Ask(SNAPSHOT_COMMAND, str(channel.get("creator") or ""), channel_id, "welcome",
                      channel_name=name)
            responder.spawn(ask, responder.parse(ask))

    @app.action(RERUN_ACTION)
    async def on_rerun(ack: Any, body: dict, action: dict, context: dict) -> None:
        await ack()
        await _button(deduper, responder, body, action, "rerun", context.get("bot_user_id"))

    @app.action(DETAILS_ACTION)
    async def on_details(ack: Any, body: dict, action: dict, context: dict) -> None:
        await ack()
        await _button(deduper, responder, body, action, "details", context.get("bot_user_id"))

    @app.error
    async def on_error(error: Exception, body: dict) -> None:
        log.error("bolt_error", error=f"{type(error).__name__}: {error}",
                  type=(body or {}).get("type"))

    return app


async def _hand_over(responder: Responder, ask: Ask) -> None:
    """Parse an event's ask and spawn it; a usage error is told to the asker at once."""
    try:
        parsed = responder.parse(ask)
    except UsageError as exc:
        await responder.tell(ask, usage_message(exc))
        return
    responder.spawn(ask, parsed)


async def _first_event(deduper: Deduper, body: dict, event: dict) -> bool:
    """An event is new if neither its id nor (channel, ts) was seen: Slack may deliver one
    message as an app_mention and a message event with different ids."""
    first_id = await deduper.first("event", str(body.get("event_id") or event.get("event_ts")))
    first_msg = await deduper.first("message", f"{event.get('channel')}:{event.get('ts')}")
    return first_id and first_msg


async def _button(deduper: Deduper, responder: Responder, body: dict, action: dict,
                  trigger: str, bot_user: str | None) -> None:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id", "")
    message = body.get("message") or {}
    key = f"{channel}:{container.get('message_ts')}:{action.get('action_ts')}:{trigger}"
    if not await deduper.first("action", key):
        return
    user = (body.get("user") or {}).get("id", "")
    root_ts = container.get("message_ts") or message.get("ts")
    thread_ts = message.get("thread_ts") or (root_ts if trigger == "details" else None)
    ask = Ask(str(action.get("value") or ""), user, channel, trigger, thread_ts=thread_ts,
              fresh=trigger == "rerun", response_url=body.get("response_url"),
              trigger_id=body.get("trigger_id"), bot_user=bot_user)
    await _hand_over(responder, ask)
