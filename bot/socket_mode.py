"""Socket Mode: connecting to Slack however long it stays unreachable.

slack_sdk's Socket Mode client, left alone, retries one WebSocket URL forever from inside
connect() (URLs are single-use, so a dead one never recovers) and logs each failure with a
traceback. Here each attempt asks Slack for a fresh URL, a failed attempt is one warning, the
pause grows, and the rest of the bot (health, metrics, signals) never waits for it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import sys
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot import logs

log = logs.get("meshbot.serve")
SOCKET_RETRY_FIRST, SOCKET_RETRY_MAX = 1.0, 30.0  # seconds between Socket Mode attempts
SOCKET_ATTEMPT_SECONDS = 30.0  # one attempt: apps.connections.open, then the WebSocket handshake
_URL_QUERY = re.compile(r"(\b(?:wss?|https?)://[^\s'\"?)]*)\?[^\s'\")]*")


def _reason(exc: BaseException) -> str:
    """Why a connection attempt failed, without URLs' queries (a Socket Mode URL's ticket lets
    anyone connect as the app)."""
    text = _URL_QUERY.sub(r"\1?...", f"{type(exc).__name__}: {exc}".strip().rstrip(":"))
    return " ".join(text.split())[:300]


class _SocketModeLog(logging.LoggerAdapter):
    """The logger given to slack_sdk's Socket Mode client. Its connect() never gives up: it logs
    each failure (with a traceback, and sometimes the WebSocket URL) and tries the same URL
    again. While a connection attempt is being made, an error logged by the client ends that
    attempt instead (one warning, then a retry with a fresh URL); everything else is
    logged as the client meant it."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})
        self.attempt: asyncio.Future | None = None

    @property
    def level(self) -> int:  # slack-bolt's Socket Mode adapter reads client.logger.level
        return self.logger.level

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        if self.attempt is not None and level >= logging.ERROR and exc is not None:
            if not self.attempt.done():
                self.attempt.set_result(exc)
            return
        super().log(level, msg, *args, **kwargs)


class SocketModeConnection:
    """The bolt app's Socket Mode handler, connected in the background."""

    def __init__(self, app: AsyncApp, app_token: str):
        self._log = _SocketModeLog(app.logger)
        self.handler = AsyncSocketModeHandler(app, app_token,
                                              logger=self._log)  # type: ignore[arg-type]
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="socket-mode")

    async def connected(self) -> bool:
        return bool(await self.handler.client.is_connected())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        await self.handler.close_async()

    async def _connect(self) -> None:
        """Socket Mode: connect, however long Slack stays unreachable. Each failed attempt is
        one warning; the next one, after a growing pause, asks Slack for a fresh URL (they are
        single-use). Once connected, slack_sdk's client keeps the connection up."""
        delay = SOCKET_RETRY_FIRST
        for attempt in itertools.count(1):
            error = await self._attempt()
            if error is None:
                log.info("slack_connected", mode="socket", attempts=attempt)
                return
            log.warning("slack_connect_failed", mode="socket", attempt=attempt, error=error,
                        retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay = min(2 * delay, SOCKET_RETRY_MAX)

    async def _attempt(self) -> str | None:
        """One connection attempt; None when connected, else why not."""
        client = self.handler.client
        failed = self._log.attempt = asyncio.get_running_loop().create_future()
        client.wss_uri = None  # connect() then asks apps.connections.open for a fresh URL
        connecting = asyncio.ensure_future(client.connect())
        try:
            await asyncio.wait([connecting, failed], timeout=SOCKET_ATTEMPT_SECONDS,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._log.attempt = None
            if not connecting.done():
                connecting.cancel()  # the client was about to retry the same URL, or is stuck
                await asyncio.wait([connecting])
        if failed.done():
            return _reason(failed.result())
        if connecting.cancelled():
            return f"no connection within {SOCKET_ATTEMPT_SECONDS:g} s"
        if connecting.exception() is not None:
            return _reason(connecting.exception())  # type: ignore[arg-type]
        return None if await client.is_connected() else "the connection closed at once"
