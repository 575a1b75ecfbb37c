"""Posting to Slack so that an answer degrades but is never lost.

429s are retried after Retry-After by slack_sdk's retry handler (counted in metrics); a message
Slack refuses for its blocks is re-sent as plain text with the full content attached as a file;
any other failure is logged and counted, and the caller carries on with the rest of the thread.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (AsyncConnectionErrorRetryHandler,
                                                         AsyncRateLimitErrorRetryHandler,
                                                         AsyncServerErrorRetryHandler)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.blocks import SlackMessage
from bot.metrics import Metrics

SLACK_TIMEOUT = 15  # seconds per Web API call
BLOCK_ERRORS = {"invalid_blocks", "msg_blocks_too_long", "invalid_blocks_format", "msg_too_long"}
log = logs.get("meshbot.slack")


class _CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Retry 429s after Retry-After (the SDK's behaviour) and count each one."""

    def __init__(self, metrics: Metrics, max_retry_count: int = 6):
        super().__init__(max_retry_count=max_retry_count)
        self.metrics = metrics

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None,
                               error: Exception | None = None) -> bool:
        can = await super()._can_retry_async(state=state, request=request, response=response,
                                             error=error)
        if response is not None and response.status_code == 429:
            method = request.url.rsplit("/", 1)[-1].split("?")[0]
            self.metrics.slack_ratelimited.labels(method).inc()
        return can


def slack_session() -> aiohttp.ClientSession:
    """One HTTP session for every Web API call, so connections to Slack are kept alive: without
    it slack_sdk opens (and closes) a connection per call, a dozen per answer."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT))


def web_client(token: str, base_url: str | None, metrics: Metrics,
               session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    handlers: list[AsyncRetryHandler] = [AsyncConnectionErrorRetryHandler(),
                                         _CountingRateLimitHandler(metrics),
                                         AsyncServerErrorRetryHandler(max_retry_count=2)]
    kwargs: dict[str, Any] = {"token": token, "timeout": SLACK_TIMEOUT, "retry_handlers": handlers,
                              "session": session}
    if base_url:
        kwargs["base_url"] = base_url
    return AsyncWebClient(**kwargs)


class Poster:
    """The Slack Web API calls meshbot makes, each one failure-contained."""

    def __init__(self, client: AsyncWebClient, metrics: Metrics):
        self.client, self.metrics = client, metrics

    def _failed(self, method: str, exc: Exception, **context: Any) -> None:
        error = exc.response.get("error", "unknown") if isinstance(exc, SlackApiError) \
            else type(exc).__name__
        self.metrics.slack_errors.labels(method, str(error)).inc()
        log.warning("slack_call_failed", method=method, error=str(error), **context)

    async def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None
                   ) -> str | None:
        """Post a message (and upload its files into the same thread); returns its ts."""
        try:
            resp = await self.client.chat_postMessage(channel=channel, text=message.text,
                                                      blocks=message.blocks, thread_ts=thread_ts,
                                                      unfurl_links=False, unfurl_media=False)
            ts = resp.get("ts")
            log.debug("posted", channel=channel, ts=ts, thread_ts=thread_ts)
        except SlackApiError as exc:
            if exc.response.get("error") not in BLOCK_ERRORS:
                self._failed("chat.postMessage", exc, channel=channel)
                return None
            ts = await self._post_as_text(channel, message, thread_ts)
        except SlackClientError as exc:
            self._failed("chat.postMessage", exc, channel=channel)
            return None
        if message.files and ts:
            await self.upload(channel, thread_ts or ts, message.files)
        return ts

    async def _post_as_text(self, channel: str, message: SlackMessage, thread_ts: str | None
                            ) -> str | None:
        """Slack refused the blocks: say it in text and attach everything as a file."""
        self.metrics.slack_errors.labels("chat.postMessage", "blocks_refused").inc()
        text = message.text[:3500] + "\n(the full message is attached)"
        try:
            resp = await self.client.chat_postMessage(channel=channel, text=text,
                                                      thread_ts=thread_ts)
        except SlackClientError as exc:
            self._failed("chat.postMessage", exc, channel=channel)
            return None
        full = "\n\n".join(b.get("text", {}).get("text", "") for b in message.blocks)
        message.files.append(("message.txt", full or message.text))
        return resp.get("ts")

    async def update(self, channel: str, ts: str, message: SlackMessage) -> bool:
        try:
            await self.client.chat_update(channel=channel, ts=ts, text=message.text,
                                          blocks=message.blocks)
            return True
        except SlackClientError as exc:
            self._failed("chat.update", exc, channel=channel)
            return False

    async def ephemeral(self, channel: str, user: str, text: str,
                        thread_ts: str | None = None) -> None:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text,
                                                 thread_ts=thread_ts)
        except SlackClientError as exc:
            self._failed("chat.postEphemeral", exc, channel=channel)

    async def upload(self, channel: str, thread_ts: str,
                     files: list[tuple[str, str | bytes]]) -> None:
        """Upload text or binary files (files upload v2) into a thread."""
        for name, content in files:
            body = {"content": content} if isinstance(content, str) else {"file": content}
            try:
                await self.client.files_upload_v2(channel=channel, thread_ts=thread_ts,
                                                  filename=name, title=name, **body)
            except SlackClientError as exc:
                self._failed("files.upload", exc, channel=channel)

    async def join(self, channel: str) -> bool:
        try:
            await self.client.conversations_join(channel=channel)
            return True
        except SlackClientError as exc:
            self._failed("conversations.join", exc, channel=channel)
            return False
