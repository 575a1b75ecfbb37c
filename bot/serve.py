"""`meshbot serve`: the bot, in Socket Mode (SLACK_APP_TOKEN set) or HTTP mode.

Both modes serve /healthz, /readyz and /metrics; HTTP mode also takes Slack's requests at
/slack/events. Slack is connected in the background (Socket Mode: retried with a fresh WebSocket
URL and a growing pause, one warning per failed attempt), so health, metrics and signals work
while Slack is unreachable.

Readiness (README "Operations"): /readyz is 503 until Slack first accepted the bot (a rollout
waits for a new pod that can answer) and from SIGTERM on (the pod leaves the Service before it
stops). After the first connection, a Slack outage or a Socket Mode reconnect is reported (status
"degraded", `meshbot_slack_connected` 0, the SlackDisconnected alert) but never makes the pod
unready: every replica shares the outage, and unready pods under a PodDisruptionBudget would
block node drains without helping anyone.

On SIGTERM the bot closes its Socket Mode connection (Slack sends new events to the other
replicas' connections), keeps acknowledging what still reaches it over HTTP while the endpoints
are updated, lets running diagnoses (and those that arrive meanwhile) finish within the drain
time, and marks the ones it had to cut as interrupted.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from zoneinfo import ZoneInfo

from aiohttp import web
from slack_sdk.errors import SlackClientError

from bot import logs
from bot.dedupe import Deduper
from bot.digest import DigestPublisher
from bot.digest_schedule import DigestScheduler, entry_id
from bot.gate import Gate
from bot.http_guard import GuardedSite, HttpLimits, quiet_client_faults
from bot.incident_channels import IncidentChannels
from bot.incidents import Incidents
from bot.isolated import IsolatedDiagnoses, SourceSpec
from bot.metrics import Metrics
from bot.poster import Poster, slack_session, web_client
from bot.responder import Responder
from bot.server import Health, build_web_app
from bot.settings import Settings
from bot.slack_app import build_app
from bot.uploads import Uploads
from bot.socket_mode import SocketModeConnection
from diagnostics import gcpause
from diagnostics.config import Config, ConfigError
from diagnostics.reports import ReportCache
from diagnostics.snapshot import SnapshotError
from diagnostics.sources.base import Source
from diagnostics.sources.caching import with_facts_cache
from diagnostics.sources.factory import build_source, snapshot_paths
from diagnostics.store.base import Store
from diagnostics.store.resilient import open_store
from handlers.run import Answerer

log = logs.get("meshbot.serve")
# Within the pods' terminationGracePeriodSeconds (45), after the preStop pause (5 s).
DRAIN_SECONDS = 35.0
SLACK_POLL_SECONDS = 1.0  # how often meshbot_slack_connected is refreshed


class SetupError(Exception):
    """The environment cannot run the bot (the clusters or snapshot to read, the HTTP port);
    the message says what is wrong and which variable to set."""


def clause(exc: Exception) -> str:
    """An error's message as one clause of a sentence: its lines joined, no final period."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines).rstrip(".") or type(exc).__name__


def _source_error(exc: ConfigError | SnapshotError, settings: Settings, config: Config
                  ) -> SetupError:
    reason = clause(exc)
    if isinstance(exc, SnapshotError):
        return SetupError(
            f"MESHBOT_SNAPSHOT cannot be read: {reason}. Set MESHBOT_SNAPSHOT to a snapshot folder "
            "or .tar.gz written by `meshbot snapshot`, or unset it to read live clusters "
            "(MESHBOT_CONFIG, KUBECONFIG).")
    if config.clusters:
        return SetupError(
            f"the clusters in MESHBOT_CONFIG ({settings.config_path or 'the config file'}) cannot "
            f"be used: {reason}. Each cluster's context must exist in its kubeconfig (the "
            "cluster's kubeconfig key, else KUBECONFIG, else ~/.kube/config): fix MESHBOT_CONFIG "
            "or KUBECONFIG, or set MESHBOT_SNAPSHOT to answer from a snapshot instead.")
    return SetupError(
        f"no cluster to read: {reason}. Set MESHBOT_CONFIG to a config file that lists the "
        "clusters and their kubeconfig contexts, or KUBECONFIG to a kubeconfig whose current "
        "context is the cluster (in a pod without one, the pod's service account is used), or "
        "MESHBOT_SNAPSHOT to answer from a snapshot.")


class Bot:
    """Everything `meshbot serve` runs, startable and stoppable in-process (tests do)."""

    def __init__(self, settings: Settings, config: Config, *, source: Source | None = None,
                 store: Store | None = None, metrics: Metrics | None = None, host: str = "0.0.0.0",
                 http_limits: HttpLimits = HttpLimits()):
        self.settings, self.config, self.host = settings, config, host
        self.http_limits = http_limits
        timeout = config.diagnosis.cluster_timeout_seconds
        overall = 3 * timeout + 10
        # First, so that a bad setup fails before anything is opened.
        built = self._build_source(config, settings, timeout) if source is None else None
        self.metrics = metrics or Metrics()
        self.store = store or open_store(
            settings.redis_url, on_error=self.metrics.store_errors.inc,
            on_degraded=lambda down: self.metrics.store_degraded.set(1 if down else 0))
        self.source = source if built is None else self._cached(built, config, settings)
        self._slack_http = slack_session()
        self.client = web_client(settings.bot_token or "", settings.api_base_url, self.metrics,
                                 self._slack_http)
        cache = ReportCache(self.store, config.cache.ttl_seconds, flight_ttl=overall,
                            on_event=lambda e: self.metrics.cache.labels(e).inc())
        self.isolated = None
        # unset: isolated, Redis or not (a flat bot matters more than children sharing facts
        # where there is no Redis to share them through)
        isolate = config.diagnosis.isolated is not False
        if isolate and built is not None and not settings.snapshot:
            self.isolated = IsolatedDiagnoses(
                SourceSpec(config, settings.redis_url, timeout, settings.log_format,
                           settings.log_level), config.diagnosis.max_concurrent)
        answerer = Answerer(self.source, cache, timeout, on_diagnosis=self.metrics.diagnosed,
                            max_concurrent=config.diagnosis.max_concurrent,
                            isolated=self.isolated)
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
        self.responder.channels = channels
        self.responder.uploads = Uploads(self.client, self._slack_http, poster, self.metrics,
                                         config.uploads, api_base_url=settings.api_base_url,
                                         timeout=timeout, overall_timeout=overall)
        self.scheduler = DigestScheduler(config.digests, self.store, self._scheduled_digest)
        self._scheduler_task: asyncio.Task | None = None
        self.app = build_app(self.client, self.responder, Deduper(self.store, self.metrics),
                             signing_secret=settings.signing_secret, socket_mode=settings.socket_mode,
                             channels=channels)
        self.socket: SocketModeConnection | None = None
        self._runner: web.AppRunner | None = None
        self._authenticated = False
        self._auth_task: asyncio.Task | None = None
        self._watch_task: asyncio.Task | None = None
        self._slack_seen = False  # Slack accepted the bot at least once
        self._draining = False
        self.port: int | None = None

    @staticmethod
    def _build_source(config: Config, settings: Settings, timeout: float) -> Source:
        """The snapshot or the live clusters; raises SetupError saying what to set."""
        try:
            return build_source(config, snapshot=snapshot_paths(settings.snapshot),
                                timeout=timeout)
        except (ConfigError, SnapshotError) as exc:
            raise _source_error(exc, settings, config) from None

    def _cached(self, source: Source, config: Config, settings: Settings) -> Source:
        """Live clusters get a short-lived facts cache shared by every command (and replica)."""
        if settings.snapshot:
            return source
        return with_facts_cache(source, self.store, config.cache.facts_ttl_seconds)

    async def _scheduled_digest(self, entry, history: str, due) -> str:
        trigger = (f"Scheduled digest (`{entry.cron}`, {entry.timezone}), due "
                   f"{due.astimezone(ZoneInfo(entry.timezone)):%a %d %b %H:%M %Z}")
        return await self.digests.publish(entry.channel, trigger=trigger, history=history,
                                          skip_if_healthy=entry.skip_if_healthy)

    async def _slack_connected(self) -> bool:
        connected = await self.socket.connected() if self.socket is not None \
            else self._authenticated
        self._slack_seen = self._slack_seen or connected
        return connected

    def _slack_gates(self) -> bool:
        """A disconnected Slack keeps the pod unready only until Slack first accepted it."""
        return not self._slack_seen

    async def _watch_slack(self) -> None:
        """Keep meshbot_slack_connected current (the alert on it is how an outage is seen)."""
        gauge = self.metrics.slack_connected.labels("socket" if self.settings.socket_mode
                                                    else "http")
        while True:
            gauge.set(1 if await self._slack_connected() else 0)
            await asyncio.sleep(SLACK_POLL_SECONDS)

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
                        store_degraded=lambda: bool(getattr(self.store, "degraded", False)),
                        slack_gates=self._slack_gates, draining=lambda: self._draining)
        web_app = build_web_app(
            self.metrics, health, None if self.settings.socket_mode else self.app,
            alerts=lambda n: self.responder.track(self.incidents.handle(n), "alert"),
            alert_token=self.settings.alertmanager_token,
            signing_secret=self.settings.signing_secret, limits=self.http_limits)
        quiet_client_faults()
        self._runner = web.AppRunner(web_app, access_log=None, **self.http_limits.runner_kwargs())
        await self._runner.setup()
        self.site = GuardedSite(self._runner, self.host,
                                self.settings.http_port if port is None else port,
                                self.http_limits)
        await self.site.start()
        self.port = self.site.port
        if self.settings.socket_mode:
            self.socket = SocketModeConnection(self.app, self.settings.app_token)
            self.socket.start()
        else:
            self._auth_task = asyncio.create_task(self._authenticate())
        self._watch_task = asyncio.create_task(self._watch_slack(), name="slack-watch")
        if self.config.digests:
            self._scheduler_task = asyncio.create_task(self.scheduler.run(), name="digests")
        if self.isolated is not None:
            self.isolated.warm()  # the first ask need not wait for the children's server
        if not self.settings.alertmanager_token:
            log.warning("alertmanager_disabled", reason="MESHBOT_ALERTMANAGER_TOKEN is not set, "
                        "so /alertmanager refuses every request")
        log.info("serving", mode="socket" if self.settings.socket_mode else "http", port=self.port,
                 clusters=[c.name for c in self.source.cluster_infos()], store=self.store.name,
                 isolated=self.isolated is not None)

    async def stop(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        self._draining = True  # /readyz answers 503 from now on
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_seconds
        self.scheduler.stop()
        if self._scheduler_task is not None:
            await asyncio.wait([self._scheduler_task], timeout=drain_seconds)
        for task in (self._auth_task, self._watch_task):
            if task is not None:
                task.cancel()
                await asyncio.wait([task])
        if self.socket is not None:
            await self.socket.close()
        # The HTTP side stays open: asks that still arrive are acknowledged and waited for too.
        while self.responder.tasks and loop.time() < deadline:
            await asyncio.wait(set(self.responder.tasks), timeout=deadline - loop.time())
        interrupted = await self.responder.drain(max(0.0, deadline - loop.time()))
        if self._runner is not None:
            await self._runner.cleanup()
        if self.isolated is not None:
            self.isolated.close()
        await self.source.close()
        await self.store.close()
        await self._slack_http.close()
        log.info("stopped", interrupted=interrupted)


SWITCH_INTERVAL = 0.001  # seconds; see serve()


async def serve(settings: Settings, config: Config) -> int:
    """Run until SIGTERM or SIGINT (whenever it comes), then stop gracefully; raises SetupError
    when the environment cannot run the bot."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Checks and JSON parsing run on worker threads; with CPython's default 5 ms GIL switch
    # interval the event loop waits up to that long at every socket call while they run, and a
    # Slack ack makes dozens. 1 ms: acks under load p95 1.2 s -> 0.4 s (bench/ack_latency.py).
    sys.setswitchinterval(SWITCH_INTERVAL)
    bot = Bot(settings, config)
    if settings.snapshot:  # read once and kept: out of every diagnosis' collection
        gcpause.keep_standing()
    try:
        await bot.start()
    except OSError as exc:
        await bot.stop(drain_seconds=0)
        raise SetupError(f"cannot serve HTTP on port {settings.http_port} (MESHBOT_HTTP_PORT): "
                         f"{exc.strerror or exc}. Set MESHBOT_HTTP_PORT to a free port.") from None
    await stop.wait()
    await bot.stop()
    return 0
