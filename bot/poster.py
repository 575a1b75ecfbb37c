"""Posting to Slack so that an answer degrades but is never lost.

429s are retried after Retry-After by slack_sdk's retry handler (counted in metrics); a message
Slack refuses for its blocks is re-sent as plain text with the full content attached as a file;
any other failure is logged and counted, and the caller carries on with the rest of the thread.

A channel the bot is not in refuses chat.postMessage (`not_in_channel`; a private one answers
`channel_not_found`); an interaction's `response_url` still reaches it (`respond`), so the
responder can answer there. Responses go only to Slack's hooks host or the configured Web API
host: a response_url is a URL meshbot POSTs to, and nothing else should choose where.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import logs
from bot.blocks import SlackMessage
from bot.metrics import Metrics

SLACK_TIMEOUT = 15  # seconds per Web API call
BLOCK_ERRORS = {"invalid_blocks", "msg_blocks_too_long", "invalid_blocks_format", "msg_too_long"}
# What chat.postMessage answers in a channel the bot is not a member of (private channels and
# DMs look absent to a non-member).
NOT_IN_CHANNEL = frozenset({"not_in_channel", "channel_not_found"})
SLACK_HOOKS = "hooks.slack.com"
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
        api_host = urlsplit(client.base_url).netloc
        self.response_hosts = {SLACK_HOOKS, api_host}  # where a response_url may point

    def _failed(self, method: str, exc: Exception, **context: Any) -> str:
        error = exc.response.get("error", "unknown") if isinstance(exc, SlackApiError) \
            else type(exc).__name__
        self.metrics.slack_errors.labels(method, str(error)).inc()
        log.warning("slack_call_failed", method=method, error=str(error), **context)
        return str(error)

    async def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None
                   ) -> str | None:
        """Post a message (and upload its files into the same thread); returns its ts."""
        ts, _ = await self.try_post(channel, message, thread_ts)
        return ts

    async def try_post(self, channel: str, message: SlackMessage, thread_ts: str | None = None
                       ) -> tuple[str | None, str | None]:
        """Post a message and its files; returns (ts, None), or (None, Slack's error)."""
        try:
            resp = await self.client.chat_postMessage(channel=channel, text=message.text,
                                                      blocks=message.blocks, thread_ts=thread_ts,
                                                      unfurl_links=False, unfurl_media=False)
            ts = resp.get("ts")
            log.debug("posted", channel=channel, ts=ts, thread_ts=thread_ts)
        except SlackApiError as exc:
            if exc.response.get("error") not in BLOCK_ERRORS:
                return None, self._failed("chat.postMessage", exc, channel=channel)
            ts = await self._post_as_text(channel, message, thread_ts)
        except SlackClientError as exc:
            return None, self._failed("chat.postMessage", exc, channel=channel)
        if message.files and ts:
            await self.upload(channel, thread_ts or ts, message.files)
        return ts, None if ts else "not_posted"

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
                        thread_ts: str | None = None) -> bool:
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text,
                                                 thread_ts=thread_ts)
            return True
        except SlackClientError as exc:
            self._failed("chat.postEphemeral", exc, channel=channel)
            return False

    async def respond(self, response_url: str, message: SlackMessage, *,
                      in_channel: bool = False) -> bool:
        """Post through an interaction's response_url (works where the bot is not a member;
        five uses within 30 minutes); ephemeral to the asker unless `in_channel`."""
        if urlsplit(response_url).netloc not in self.response_hosts:
            log.warning("response_url_refused", host=urlsplit(response_url).netloc)
            return False
        body: dict[str, Any] = {"text": message.text, "blocks": message.blocks,
                                "response_type": "in_channel" if in_channel else "ephemeral",
                                "replace_original": False, "unfurl_links": False}
        hook = AsyncWebhookClient(response_url, timeout=SLACK_TIMEOUT,
                                  session=self.client.session)
        try:
            resp = await hook.send_dict(body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.metrics.slack_errors.labels("response_url", type(exc).__name__).inc()
            log.warning("slack_call_failed", method="response_url", error=type(exc).__name__)
            return False
        if resp.status_code != 200:
            self.metrics.slack_errors.labels("response_url", str(resp.status_code)).inc()
            log.warning("slack_call_failed", method="response_url", status=resp.status_code,
                        error=(resp.body or "")[:200])
            return False
        return True

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str | None:
        """Open a modal for the user who clicked (the trigger_id lasts 3 s); its view id."""
        try:
            resp = await self.client.views_open(trigger_id=trigger_id, view=view)
            return (resp.get("view") or {}).get("id")
        except SlackClientError as exc:
            self._failed("views.open", exc)
            return None

    async def update_view(self, view_id: str, view: dict[str, Any]) -> bool:
        try:
            await self.client.views_update(view_id=view_id, view=view)
            return True
        except SlackClientError as exc:
            self._failed("views.update", exc)
            return False

    async def upload(self, channel: str, thread_ts: str,
                     files: list[tuple[str, str | bytes]]) -> bool:
        """Upload text or binary files (files upload v2) into a thread; True when all were."""
        uploaded = True
        for name, content in files:
            body = {"content": content} if isinstance(content, str) else {"file": content}
            try:
                await self.client.files_upload_v2(channel=channel, thread_ts=thread_ts,
                                                  filename=name, title=name, **body)
            except SlackClientError as exc:
                self._failed("files.upload", exc, channel=channel)
                uploaded = False
        return uploaded

    async def join(self, channel: str) -> bool:
        try:
            await self.client.conversations_join(channel=channel)
            return True
        except SlackClientError as exc:
            self._failed("conversations.join", exc, channel=channel)
            return False
