"""The bot's HTTP side (contract C6): Slack events in HTTP mode, Alertmanager, health, metrics.

Untrusted bytes are handled in the order that costs an outsider the least of our time: a Slack
request's signature is checked on the raw body before anything parses it (a forged or malformed
request gets 401 or 400, never 500, and at most one log line a minute); Alertmanager's bearer
token before its body is read. Bodies are bounded (bot/http_guard.py: time; here: size).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp

from bot import logs
from bot.alerts import (FULL_BODY, MAX_BODY, AlertPayloadError, AlertSkim, Notification,
                        parse_notification)
from bot.bolt_request import FormSafeBoltRequest
from bot.http_guard import HttpLimits, body_timeout, body_too_slow
from bot.metrics import CONTENT_TYPE, Metrics

log = logs.get("meshbot.http")
SLACK_BODY = 2 * 1024 * 1024  # Slack's largest payloads (events with blocks) are far smaller
SIGNATURE_WINDOW = 300  # seconds; Slack's replay window
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_CHUNK = 64 * 1024


@dataclass
class Health:
    """What /readyz reports: Slack connected, a source configured; the store may be degraded.

    Ready means "send me work": a source is configured, the bot is not draining for shutdown,
    and Slack is connected while `slack_gates()` says a disconnection still matters (serve.py:
    only until Slack first accepted the bot; later outages are degraded, not unready)."""

    slack_connected: Callable[[], Awaitable[bool]]
    source_configured: bool
    store_degraded: Callable[[], bool] = lambda: False
    slack_gates: Callable[[], bool] = lambda: True
    draining: Callable[[], bool] = lambda: False


def _json(status: int, data: dict) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


AlertSink = Callable[[Notification], None]


def signed_by_slack(secret: str, body: bytes, headers: Mapping[str, str],
                    now: float | None = None) -> bool:
    """Slack's v0 signature over the raw bytes, checked before anything reads them: malformed
    headers are simply not a signature (no int() of an arbitrary string, no decoding)."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    given = headers.get("X-Slack-Signature", "")
    if not _TIMESTAMP.fullmatch(stamp) or not _SIGNATURE.fullmatch(given):
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > SIGNATURE_WINDOW:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(f"v0={digest.hexdigest()}", given)


async def read_alert_body(request: web.Request, limits: HttpLimits
                          ) -> tuple[bytes | None, AlertSkim | None]:
    """The body in full when it is at most FULL_BODY, else a skim of (at most MAX_BODY of) it;
    TimeoutError when it does not arrive in time."""
    chunks: list[bytes] = []
    size, skim = 0, None
    async with asyncio.timeout(limits.body_seconds):
        async for chunk in request.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if skim is None and size <= FULL_BODY:
                chunks.append(chunk)
                continue
            if skim is None:
                skim = AlertSkim()
                for earlier in chunks:
                    skim.feed(earlier)
                chunks = []
            skim.feed(chunk)
            if size >= MAX_BODY:
                break  # what follows is not read: the answer closes the connection
    return (b"".join(chunks), None) if skim is None else (None, skim)


def build_web_app(metrics: Metrics, health: Health, bolt: AsyncApp | None = None,
                  alerts: AlertSink | None = None, alert_token: str | None = None,
                  signing_secret: str | None = None, limits: HttpLimits = HttpLimits()
                  ) -> web.Application:
    """The aiohttp application; /slack/events only when Slack talks to us over HTTP."""
    app = web.Application(client_max_size=SLACK_BODY, middlewares=[body_timeout(limits)])
    refused = logs.Throttled(log)

    async def alertmanager(request: web.Request) -> web.Response:
        """Answer at once (2xx, never 429: Alertmanager does not retry 4xx); work runs after."""
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {alert_token}" if alert_token else None
        if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
            metrics.alertmanager.labels("unknown", "unauthorized").inc()
            refused.warning("request_refused", path=request.path, status=401)
            return _json(401, {"error": "a valid bearer token is required"})
        try:
            body, skim = await read_alert_body(request, limits)
            parse = (lambda: parse_notification(body)) if skim is None else skim.notification
            notification = await asyncio.to_thread(parse)
        except TimeoutError:  # 503, not 408: Alertmanager retries a 5xx, never a 4xx
            return body_too_slow(limits, status=503)
        except AlertPayloadError as exc:
            metrics.alertmanager.labels("unknown", "malformed").inc()
            return _json(400, {"error": str(exc)[:300]})
        if alerts is not None:
            alerts(notification)
        answer = {"status": "accepted", "alerts": len(notification.alerts)}
        if skim is not None:  # too large to read one by one: handled as a summary
            answer.update(summarized=True, bytes=skim.size, counted=skim.firing + skim.resolved)
        response = _json(200, answer)
        if skim is not None and skim.size >= MAX_BODY:
            response.force_close()
        return response

    alertmanager.streams_body = True  # type: ignore[attr-defined]  # see http_guard.body_timeout

    async def slack_events(request: web.Request) -> web.StreamResponse:
        assert bolt is not None and signing_secret
        raw = await request.read()  # within the size and time limits (middleware)
        if not signed_by_slack(signing_secret, raw, request.headers):
            refused.warning("request_refused", path=request.path, status=401,
                            reason="no valid Slack signature")
            return _json(401, {"error": "invalid request"})
        try:
            bolt_request = FormSafeBoltRequest(body=raw.decode("utf-8"),
                                               query=request.query_string,
                                               headers=dict(request.headers))
        except Exception:  # noqa: BLE001 - signed, yet not a payload bolt can read
            refused.warning("request_refused", path=request.path, status=400,
                            reason="signed body is not a Slack payload")
            return _json(400, {"error": "malformed request"})
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    async def healthz(_request: web.Request) -> web.Response:
        return _json(200, {"status": "alive"})

    async def readyz(_request: web.Request) -> web.Response:
        checks = {"slack": await health.slack_connected(), "sources": health.source_configured}
        ready = checks["sources"] and not health.draining() \
            and (checks["slack"] or not health.slack_gates())
        degraded = health.store_degraded() or not checks["slack"]
        status = "draining" if health.draining() else \
            "not ready" if not ready else "degraded" if degraded else "ready"
        return _json(200 if ready else 503, {"status": status, **checks,
                                              "store": "degraded" if health.store_degraded()
                                              else "ok"})

    async def metrics_endpoint(_request: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    if bolt is not None:
        app.router.add_post("/slack/events", slack_events)
    app.router.add_post("/alertmanager", alertmanager)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app
