"""SignedClient: Slack -> bot over HTTP. Builds slash-command forms, event_callback JSON,
url_verification and `payload=` interactivity forms, signs them as Slack does (contract §1.2),
POSTs them to `<base_url>/slack/events` and measures the ack latency.

Retries (contract §2.3): `retry()` re-sends the same body with a new timestamp/signature and
X-Slack-Retry-Num/Reason; `deliver_event()` applies Slack's policy (retry on non-2xx or no
answer within the 3 s ack deadline, up to 3 times, unless X-Slack-No-Retry: 1).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from .payloads import WorkspacePayloads, form_body, interactive_form_body, url_verification
from .signing import sign

if TYPE_CHECKING:
    from .api import FakeSlackAPI

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
ACK_DEADLINE = 3.0


@dataclass(frozen=True)
class InboundRequest:
    """One logical delivery: the exact raw body (re-sent unchanged on retries)."""

    kind: str  # command | event | url_verification | interactive | raw
    body: str
    content_type: str
    payload: dict[str, Any] | None = None


@dataclass
class InboundResponse:
    status: int
    body: str
    headers: dict[str, str]
    latency_ms: float
    request: InboundRequest
    sent_headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def timed_out(self) -> bool:
        """Slack would have given up (no ack within 3 s)."""
        return self.latency_ms > ACK_DEADLINE * 1000


class SignedClient:
    """Args: base_url of the bot's HTTP server; signing_secret; api (FakeSlackAPI, optional:
    response_urls/trigger_ids/messages then live in the fake); path (default /slack/events)."""

    def __init__(self, base_url: str, signing_secret: str, *, api: "FakeSlackAPI | None" = None,
                 path: str = "/slack/events", timeout: float = 10.0) -> None:
        self.url = base_url.rstrip("/") + path
        self.signing_secret = signing_secret
        self.api = api
        self.payloads = WorkspacePayloads(api)
        self.timeout = timeout
        self.responses: list[InboundResponse] = []
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "SignedClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    # ---- transport

    def headers_for(self, request: InboundRequest, *, timestamp: int | str | None = None,
                    signature: str | None = None, signing_secret: str | None = None,
                    retry_num: int | None = None, retry_reason: str | None = None,
                    extra_headers: dict[str, str] | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": request.content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or sign(signing_secret or self.signing_secret, ts,
                                                   request.body),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        headers.update(extra_headers or {})
        return headers

    async def send(self, request: InboundRequest, **sign_kw: Any) -> InboundResponse:
        """POST a request. Keywords: timestamp (stale/future tests), signature (forged),
        signing_secret (wrong secret), retry_num/retry_reason, extra_headers."""
        headers = self.headers_for(request, **sign_kw)
        start = time.perf_counter()
        async with self._sess().post(self.url, data=request.body.encode("utf-8"),
                                     headers=headers) as resp:
            body = await resp.text()
            latency = (time.perf_counter() - start) * 1000
            out = InboundResponse(status=resp.status, body=body, headers=dict(resp.headers),
                                  latency_ms=latency, request=request, sent_headers=headers)
        self.responses.append(out)
        if request.kind == "command" and out.status == 200 and self.api is not None and request.payload:
            self.api.show_ack(request.payload.get("response_url"), body)
        return out

    async def post_raw(self, body: str, content_type: str = FORM, **sign_kw: Any) -> InboundResponse:
        return await self.send(InboundRequest("raw", body, content_type), **sign_kw)

    async def retry(self, previous: InboundResponse | InboundRequest, *, num: int = 1,
                    reason: str = "http_timeout", **sign_kw: Any) -> InboundResponse:
        """Slack's retry: the same body, a new timestamp and signature, retry headers."""
        request = previous.request if isinstance(previous, InboundResponse) else previous
        return await self.send(request, retry_num=num, retry_reason=reason, **sign_kw)

    async def deliver_event(self, request: InboundRequest, *, max_retries: int = 3,
                            delays: tuple[float, ...] = (0.0, 0.0, 0.0),
                            ack_deadline: float = ACK_DEADLINE) -> list[InboundResponse]:
        """Deliver like Slack: retry on non-2xx or when no answer comes within `ack_deadline`
        (reason http_error / http_timeout), up to `max_retries`, honouring X-Slack-No-Retry: 1.
        `delays` compresses Slack's ~0 s / 1 min / 5 min schedule. Returns every response
        (late answers included), in send order."""
        tasks: list[asyncio.Task[InboundResponse]] = []
        attempt = 0
        reason: str | None = None
        try:
            while True:
                kw: dict[str, Any] = {} if attempt == 0 else {"retry_num": attempt, "retry_reason": reason}
                task = asyncio.ensure_future(self.send(request, **kw))
                tasks.append(task)
                done, _ = await asyncio.wait({task}, timeout=ack_deadline)
                if not done:
                    reason = "http_timeout"
                else:
                    resp = task.result()
                    if 200 <= resp.status < 300:
                        break
                    if resp.headers.get("X-Slack-No-Retry") == "1":
                        break
                    reason = "http_error"
                if attempt >= max_retries:
                    break
                await asyncio.sleep(delays[min(attempt, len(delays) - 1)] if delays else 0.0)
                attempt += 1
            return list(await asyncio.gather(*tasks))
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()

    # ---- builders (return InboundRequest; the async helpers below also send)

    def command_request(self, text: str = "", **kw: Any) -> InboundRequest:
        fields = self.payloads.slash_command(text, **kw)
        return InboundRequest("command", form_body(fields), FORM, fields)

    def event_request(self, callback: dict[str, Any]) -> InboundRequest:
        return InboundRequest("event", json.dumps(callback), JSON, callback)

    def interaction_request(self, payload: dict[str, Any]) -> InboundRequest:
        return InboundRequest("interactive", interactive_form_body(payload), FORM, payload)

    # ---- one-call helpers

    async def slash_command(self, text: str = "", *, command: str = "/mesh", user: str = "U0ALICE",
                            channel: str = "C0GENERAL", **sign_kw: Any) -> InboundResponse:
        return await self.send(self.command_request(text, command=command, user=user,
                                                    channel=channel), **sign_kw)

    async def event(self, event: dict[str, Any], *, event_id: str | None = None,
                    **sign_kw: Any) -> InboundResponse:
        """An event_callback around `event` (an inner event dict)."""
        return await self.send(self.event_request(self.payloads.event(event, event_id=event_id)),
                               **sign_kw)

    async def app_mention(self, text: str = "", *, user: str = "U0ALICE", channel: str = "C0GENERAL",
                          thread_ts: str | None = None, event_id: str | None = None,
                          **sign_kw: Any) -> InboundResponse:
        cb = self.payloads.app_mention(text, user=user, channel=channel, thread_ts=thread_ts,
                                       event_id=event_id)
        return await self.send(self.event_request(cb), **sign_kw)

    async def url_verification(self, challenge: str | None = None, **sign_kw: Any) -> InboundResponse:
        body = url_verification(challenge)
        return await self.send(InboundRequest("url_verification", json.dumps(body), JSON, body),
                               **sign_kw)

    async def interaction(self, payload: dict[str, Any], **sign_kw: Any) -> InboundResponse:
        return await self.send(self.interaction_request(payload), **sign_kw)

    async def click(self, *, channel: str, message_ts: str, action_id: str, user: str = "U0ALICE",
                    selected_value: str | None = None, ephemeral: bool = False,
                    **sign_kw: Any) -> InboundResponse:
        """`user` clicks the element `action_id` of a stored message: a block_actions POST."""
        payload = self.payloads.block_actions(channel=channel, message_ts=message_ts,
                                              action_id=action_id, user=user,
                                              selected_value=selected_value, ephemeral=ephemeral)
        return await self.interaction(payload, **sign_kw)


__all__ = ["SignedClient", "InboundRequest", "InboundResponse"]
