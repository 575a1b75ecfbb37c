"""`meshbot serve`: the bot, in Socket Mode (SLACK_APP_TOKEN set) or HTTP mode.

Both modes serve /healthz, /readyz and /metrics; HTTP mode also takes Slack's requests at
/slack/events. On SIGTERM the bot stops taking work, lets running diagnoses finish for a while,
and marks the ones it had to cut as interrupted.
"""

from __future__ import annotations

import asyncio
import signal
from zoneinfo import ZoneInfo
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackClientError

from bot import logs
from bot.dedupe import Deduper
from bot.digest import DigestPublisher
from bot.digest_schedule import DigestScheduler, entry_id
from bot.gate import Gate
from bot.incident_channels import IncidentChannels
from bot.incidents import Incidents
from bot.metrics import Metrics
from bot.poster import Poster, web_client
from bot.responder import Responder
from bot.server import Health, build_web_app
from bot.settings import Settings
from bot.slack_app import build_app
from diagnostics.config import Config
from diagnostics.reports import ReportCache
from diagnostics.sources.base import Source
from diagnostics.sources.caching import CachingSource
from diagnostics.sources.factory import build_source
from diagnostics.store.base import Store
from diagnostics.store.resilient import open_store
from handlers.run import Answerer

log = logs.get("meshbot.serve")
DRAIN_SECONDS = 20.0


class Bot:
    """Everything `meshbot serve` runs, startable and stoppable in-process (tests do)."""

    def __init__(self, settings: Settings, config: Config, *, source: Source | None = None,
                 store: Store | None = None, metrics: Metrics | None = None, host: str = "0.0.0.0"):
        self.settings, self.config, self.host = settings, config, host
        self.metrics = metrics or Metrics()
        self.store = store or open_store(
            settings.redis_url, on_error=self.metrics.store_errors.inc,
            on_degraded=lambda down: self.metrics.store_degraded.set(1 if down else 0))
        timeout = config.diagnosis.cluster_timeout_seconds
        overall = 3 * timeout + 10
        self.source = source or self._source(config, settings, timeout)
        self.client = web_client(settings.bot_token or "", settings.api_base_url, self.metrics)
        cache = ReportCache(self.store, config.cache.ttl_seconds, flight_ttl=overall,
                            on_event=lambda e: self.metrics.cache.labels(e).inc())
        answerer = Answerer(self.source, cache, timeout, on_diagnosis=self.metrics.diagnosed)
        poster = Poster(self.client, self.metrics)
        self.responder = Responder(answerer, poster,
                                   Gate(config.permissions, self.client, self.store, self.metrics),
                                   self.metrics, overall_timeout=overall)
        clusters = [c.name for c in self.source.cluster_infos()]
        self.incidents = Incidents(config.incidents, self.store, poster, answerer, self.metrics,
                                   clusters)
        channels = IncidentChannels(config.incidents.channel_name_patterns, poster, answerer)
        self.digests = DigestPublisher(answerer, poster, self.store,
                                       {d.channel: entry_id(d) for d in config.digests})
        self.responder.digests = self.digests
        self.scheduler = DigestScheduler(config.digests, self.store, self._scheduled_digest)
        self._scheduler_task: asyncio.Task | None = None
        self.app = build_app(self.client, self.responder, Deduper(self.store, self.metrics),
                             signing_secret=settings.signing_secret, socket_mode=settings.socket_mode,
                             channels=channels)
        self.socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._authenticated = False
        self._auth_task: asyncio.Task | None = None
        self.port: int | None = None

    def _source(self, config: Config, settings: Settings, timeout: float) -> Source:
        """Live clusters get a short-lived facts cache shared by every command (and replica)."""
        source = build_source(config, snapshot=settings.snapshot, timeout=timeout)
        if settings.snapshot or config.cache.facts_ttl_seconds <= 0:
            return source
        return CachingSource(source, self.store, config.cache.facts_ttl_seconds)

    async def _scheduled_digest(self, entry, history: str, due) -> str:
        trigger = (f"Scheduled digest (`{entry.cron}`, {entry.timezone}), due "
                   f"{due.astimezone(ZoneInfo(entry.timezone)):%a %d %b %H:%M %Z}")
        return await self.digests.publish(entry.channel, trigger=trigger, history=history,
                                          skip_if_healthy=entry.skip_if_healthy)

    async def _slack_connected(self) -> bool:
        if self.socket is not None:
            return bool(await self.socket.client.is_connected())
        return self._authenticated

    async def _authenticate(self) -> None:
        """HTTP mode: Slack counts as connected once auth.test accepts our token."""
        while not self._authenticated:
            try:
                await self.client.auth_test()
                self._authenticated = True
            except SlackClientError as exc:
                log.warning("slack_auth_failed", error=str(exc)[:200])
                await asyncio.sleep(30)

    async def start(self, port: int | None = None) -> None:
        health = Health(self._slack_connected, source_configured=bool(self.source.cluster_infos()),
                        store_degraded=lambda: bool(getattr(self.store, "degraded", False)))
        web_app = build_web_app(
            self.metrics, health, None if self.settings.socket_mode else self.app,
            alerts=lambda n: self.responder.track(self.incidents.handle(n), "alert"),
            alert_token=self.settings.alertmanager_token)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.settings.http_port if port is None else port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if self.settings.socket_mode:
            self.socket = AsyncSocketModeHandler(self.app, self.settings.app_token)
            await self.socket.connect_async()
        else:
            self._auth_task = asyncio.create_task(self._authenticate())
        if self.config.digests:
            self._scheduler_task = asyncio.create_task(self.scheduler.run(), name="digests")
        if not self.settings.alertmanager_token:
            log.warning("alertmanager_disabled", reason="MESHBOT_ALERTMANAGER_TOKEN is not set, "
                        "so /alertmanager refuses every request")
        log.info("serving", mode="socket" if self.settings.socket_mode else "http", port=self.port,
                 clusters=[c.name for c in self.source.cluster_infos()], store=self.store.name)

    async def stop(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        self.scheduler.stop()
        if self._scheduler_task is not None:
            await asyncio.wait([self._scheduler_task], timeout=drain_seconds)
        if self.socket is not None:
            await self.socket.close_async()
        if self._auth_task is not None:
            self._auth_task.cancel()
        interrupted = await self.responder.drain(drain_seconds)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.source.close()
        await self.store.close()
        log.info("stopped", interrupted=interrupted)


async def serve(settings: Settings, config: Config) -> int:
    bot = Bot(settings, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await bot.start()
    await stop.wait()
    await bot.stop()
    return 0
