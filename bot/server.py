"""The bot's HTTP side (contract C6): Slack events in HTTP mode, health, readiness, metrics."""

from __future__ import annotations

import json
import hmac
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp

from bot.alerts import AlertPayloadError, Notification, parse_notification
from bot.bolt_request import FormSafeBoltRequest
from bot.metrics import CONTENT_TYPE, Metrics


@dataclass
class Health:
    """What /readyz reports: Slack connected, a source configured; the store may be degraded."""

    slack_connected: Callable[[], Awaitable[bool]]
    source_configured: bool
    store_degraded: Callable[[], bool] = lambda: False


def _json(status: int, data: dict) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


AlertSink = Callable[[Notification], None]


def build_web_app(metrics: Metrics, health: Health, bolt: AsyncApp | None = None,
                  alerts: AlertSink | None = None, alert_token: str | None = None
                  ) -> web.Application:
    """The aiohttp application; /slack/events only when Slack talks to us over HTTP."""
    app = web.Application(client_max_size=2 * 1024 * 1024)

    async def alertmanager(request: web.Request) -> web.Response:
        """Answer at once (2xx, never 429: Alertmanager does not retry 4xx); work runs after."""
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {alert_token}" if alert_token else None
        if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
            metrics.alertmanager.labels("unknown", "unauthorized").inc()
            return _json(401, {"error": "a valid bearer token is required"})
        try:
            notification = parse_notification(await request.read())
        except AlertPayloadError as exc:
            metrics.alertmanager.labels("unknown", "malformed").inc()
            return _json(400, {"error": str(exc)})
        if alerts is not None:
            alerts(notification)
        return _json(200, {"status": "accepted", "alerts": len(notification.alerts)})

    async def slack_events(request: web.Request) -> web.Response:
        assert bolt is not None
        bolt_request = FormSafeBoltRequest(body=await request.text(), query=request.query_string,
                                           headers=dict(request.headers))
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    async def healthz(_request: web.Request) -> web.Response:
        return _json(200, {"status": "alive"})

    async def readyz(_request: web.Request) -> web.Response:
        checks = {"slack": await health.slack_connected(), "sources": health.source_configured}
        ready = all(checks.values())
        degraded = health.store_degraded()
        status = "ready" if ready and not degraded else ("degraded" if ready else "not ready")
        return _json(200 if ready else 503, {"status": status, **checks,
                                              "store": "degraded" if degraded else "ok"})

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
