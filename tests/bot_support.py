"""Running the real bot (`bot.serve.Bot`) against the fake Slack, for behaviour tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import aiohttp

from bot.http_guard import HttpLimits
from bot.serve import Bot
from bot.settings import Settings
from diagnostics.config import Config
from diagnostics.sources.base import Source
from tests.slackfake import slack_harness

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo-mesh"
ASK = "why-local-only helloworld -n sample"


@asynccontextmanager
async def fast_slack(**kw) -> AsyncIterator:
    """The fake Slack without its 1 msg/s limit (tests that want 429s inject them)."""
    kw.setdefault("rate_limit_enabled", False)
    kw.setdefault("socket_ack_timeout", 0.5)
    async with slack_harness(**kw) as harness:
        yield harness


@asynccontextmanager
async def running_bot(slack, *, socket_mode: bool = False, config: Config | None = None,
                      source: Source | None = None, snapshot: Path = DEMO,
                      redis_url: str | None = None, alert_token: str | None = None,
                      http_limits: HttpLimits | None = None) -> AsyncIterator[Bot]:
    """The bot as `meshbot serve` runs it, on an ephemeral port, answering from a snapshot."""
    settings = Settings(bot_token=slack.bot_token, signing_secret=slack.signing_secret,
                        app_token=slack.app_token if socket_mode else None,
                        api_url=slack.api.url, snapshot=str(snapshot), http_port=0,
                        redis_url=redis_url, alertmanager_token=alert_token)
    bot = Bot(settings, config or Config(), source=source, host="127.0.0.1",
              http_limits=http_limits or HttpLimits())
    await bot.start(port=0)
    try:
        if socket_mode:
            await slack.socket.wait_for_open(1)
        yield bot
    finally:
        await bot.stop(drain_seconds=5)


def url(bot: Bot) -> str:
    return f"http://127.0.0.1:{bot.port}"


def roots(slack, channel: str = "C0GENERAL"):
    """The bot's root messages in a channel (not replies, not human messages)."""
    return [m for m in slack.api.messages(channel) if m.bot_id and not m.is_reply]


def texts(messages: list) -> list:
    """The messages of a thread without the files uploaded into it (the topology picture
    follows the text of an answer with a multicluster finding)."""
    return [m for m in messages if m.source != "file_share"]


def finished(message) -> bool:
    return "Diagnosing" not in message.all_text


class SlackUser:
    """A person in Slack, whatever the transport: the same actions over HTTP (signed requests)
    or Socket Mode (envelopes), each returning once Slack has its acknowledgement."""

    def __init__(self, slack, bot, transport: str):
        self.slack, self.bot, self.transport = slack, bot, transport
        self.http = slack.client(url(bot)) if transport == "http" else None

    async def slash(self, text: str, *, user: str = "U0ALICE", channel: str = "C0GENERAL"):
        if self.http:
            resp = await self.http.slash_command(text, user=user, channel=channel)
            assert resp.status == 200, resp.body
            return resp.json() if resp.body else {}
        ack = await self.slack.socket.wait_for_ack(
            await self.slack.socket.send_slash_command(text, user=user, channel=channel))
        return ack.payload or {}

    async def mention(self, text: str, *, event_id: str | None = None):
        callback = self.slack.socket.payloads.app_mention(f"<@U0MESHBOT> {text}") \
            if not self.http else None
        if self.http:
            resp = await self.http.app_mention(f"<@U0MESHBOT> {text}", event_id=event_id)
            assert resp.status == 200
            return resp
        await self.slack.socket.wait_for_ack(await self.slack.socket.send_event(callback))
        return callback

    async def redeliver(self, delivered) -> None:
        """Slack delivering the same event again (an HTTP retry, a Socket Mode re-delivery)."""
        if self.http:
            resp = await self.http.retry(delivered, num=1, reason="http_timeout")
            assert resp.status == 200
        else:
            await self.slack.socket.wait_for_ack(await self.slack.socket.send_event(delivered))

    async def deliver_again_as_new_event(self, delivered) -> None:
        """The same message under a new event id (Slack can deliver one mention as two events)."""
        callback = delivered.request.payload if self.http else delivered
        inner = callback["event"]
        if self.http:
            resp = await self.http.event(inner)
            assert resp.status == 200
        else:
            await self.slack.socket.wait_for_ack(await self.slack.socket.send_event(inner))

    async def click(self, message_ts: str, action_id: str, *, channel: str = "C0GENERAL"):
        if self.http:
            resp = await self.http.click(channel=channel, message_ts=message_ts,
                                         action_id=action_id)
            assert resp.status == 200
        else:
            await self.slack.socket.wait_for_ack(await self.slack.socket.click(
                channel=channel, message_ts=message_ts, action_id=action_id))

    async def settled(self) -> None:
        """Every answer the bot started has been posted."""
        await self.bot.responder.drain(30)

    async def answered(self, text: str, channel: str = "C0GENERAL"):
        """Ask `text` by slash command; once answered, the one root message the bot posted."""
        await self.slash(text, channel=channel)
        await self.settled()
        (root,) = roots(self.slack, channel)
        return root


@asynccontextmanager
async def slack_user(transport: str, *, config: Config | None = None,
                     source: Source | None = None, snapshot: Path = DEMO,
                     **slack_kw) -> AsyncIterator[SlackUser]:
    async with fast_slack(**slack_kw) as slack, running_bot(
            slack, socket_mode=transport == "socket", config=config, source=source,
            snapshot=snapshot) as bot:
        yield SlackUser(slack, bot, transport)


# -- `meshbot serve` as a process ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(env: dict[str, str], *, home: Path | None = None) -> subprocess.Popen:
    """`meshbot serve` with only `env` configured (the caller's SLACK_/MESHBOT_ variables are
    dropped). With `home`, KUBE* variables are dropped too and HOME has no ~/.kube, so the
    developer's own clusters never leak in."""
    prefixes = ("SLACK_", "MESHBOT_") + (("KUBE",) if home else ())
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    if home:
        clean["HOME"] = str(home)
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=REPO,
                            env={**clean, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


async def wait_healthy(port: int, proc: subprocess.Popen, tries: int = 200) -> None:
    """Until /healthz answers 200 (every 50 ms); fails at once if the process exits."""
    async with aiohttp.ClientSession() as http:
        for _ in range(tries):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "exited"
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("meshbot serve did not come up")


def stop_serve(proc: subprocess.Popen) -> str:
    """SIGTERM, expect exit 0; returns stderr (the logs)."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    return err
