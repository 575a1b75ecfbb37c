"""Operating the bot: readiness that a Slack outage does not turn into a drain blocker, rollouts
that drop no answer, and the self-monitoring series the alerts and dashboard use.

Real parts: the bot (`bot.serve.Bot`) against the fake Slack over HTTP and Socket Mode, and a
live source over the replay API server (one cluster unreachable where errors are wanted).
"""

from __future__ import annotations

import asyncio

import aiohttp
import yaml

from bot.serve import Bot
from bot.settings import Settings
from diagnostics.config import ClusterConfig, Config
from diagnostics.replay.runner import start_replay
from diagnostics.snapshot import Snapshot
from diagnostics.sources.factory import live_source
from tests.bot_support import DEMO, fast_slack, free_port, roots, running_bot, url
from tests.monitoring_support import samples


async def _get(http: aiohttp.ClientSession, bot: Bot, path: str) -> tuple[int, dict]:
    async with http.get(url(bot) + path) as r:
        return r.status, await r.json()


async def _until(predicate, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    assert await predicate()


async def _scrape(bot: Bot) -> dict[str, float]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url(bot) + "/metrics") as r:
            return samples(await r.text())


async def test_a_slack_outage_after_connecting_is_degraded_not_unready():
    """Socket Mode: the connection drops and Slack refuses new ones. The pod stays ready (so a
    PodDisruptionBudget never blocks a drain on it), says degraded, and the gauge shows it."""
    async with fast_slack() as slack, running_bot(slack, socket_mode=True) as bot, \
            aiohttp.ClientSession() as http:
        status, body = await _get(http, bot, "/readyz")
        assert status == 200 and body["status"] == "ready" and body["slack"] is True
        await _until(lambda: _gauge(bot, 1.0))

        slack.socket.refuse_connections()
        await slack.socket.drop()

        async def degraded() -> bool:
            return (await _get(http, bot, "/readyz"))[1]["slack"] is False
        await _until(degraded)
        status, body = await _get(http, bot, "/readyz")
        assert status == 200 and body["status"] == "degraded" and body["sources"] is True
        await _until(lambda: _gauge(bot, 0.0))

        slack.socket.accept_connections()
        await _until(lambda: _gauge(bot, 1.0), timeout=30)
        assert (await _get(http, bot, "/readyz"))[1]["status"] == "ready"


async def _gauge(bot: Bot, value: float) -> bool:
    return (await _scrape(bot)).get('meshbot_slack_connected{mode="socket"}') == value


async def test_before_slack_first_accepts_the_bot_it_is_not_ready():
    """A new pod of a rollout becomes ready only once it can answer, so the old one keeps
    serving meanwhile (the first-connection gate; later outages do not gate)."""
    async with fast_slack() as slack:
        slack.api.fail("auth.test", "internal_error", times=1000)
        settings = Settings(bot_token=slack.bot_token, signing_secret=slack.signing_secret,
                            api_url=slack.api.url, snapshot=str(DEMO), http_port=0)
        bot = Bot(settings, Config(), host="127.0.0.1")
        await bot.start(port=0)
        try:
            await slack.api.wait_for(lambda: slack.api.calls("auth.test"))
            async with aiohttp.ClientSession() as http:
                status, body = await _get(http, bot, "/readyz")
            assert status == 503 and body["status"] == "not ready" and body["slack"] is False
            assert (await _scrape(bot)).get('meshbot_slack_connected{mode="http"}') == 0.0
        finally:
            await bot.stop(drain_seconds=1)


async def test_sigterm_drains_unready_and_still_answers_what_arrives_meanwhile(tmp_path):
    """A rolling update in HTTP mode: from the stop on, /readyz is 503 (the pod leaves the
    Service), a diagnosis already running finishes, and a slash command that still reaches the
    pod while endpoints update is acknowledged and answered whole, not dropped."""
    servers = await start_replay(Snapshot.open(DEMO), latency_ms=300)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    try:
        async with fast_slack() as slack, aiohttp.ClientSession() as http:
            settings = Settings(bot_token=slack.bot_token, signing_secret=slack.signing_secret,
                                api_url=slack.api.url, http_port=0)
            bot = Bot(settings, Config(), source=live_source(Config(), kubeconfig=str(kubeconfig)),
                      host="127.0.0.1")
            await bot.start(port=0)
            await slack.api.wait_for(lambda: bot._authenticated)
            client = slack.client(url(bot))
            assert (await client.slash_command("trust")).status == 200
            await slack.api.wait_for(lambda: roots(slack), timeout=10)
            stopping = asyncio.create_task(bot.stop(drain_seconds=60))
            await _until(lambda: _draining(http, bot))
            late = await client.slash_command("trust", user="U0BOB")
            assert late.status == 200
            await stopping
        answers = roots(slack)
        assert len(answers) == 2 and all("HEALTHY" in m.all_text for m in answers)
        whole = [len(slack.api.thread("C0GENERAL", m.ts)) for m in answers]
        assert whole == [2, 2]  # each: root + the passed trust steps
        assert not any("interrupted" in m.all_text for m in answers)
    finally:
        await servers.close()


async def _draining(http: aiohttp.ClientSession, bot: Bot) -> bool:
    status, body = await _get(http, bot, "/readyz")
    return status == 503 and body["status"] == "draining"


async def test_metrics_cover_build_process_slack_and_diagnoses_per_command_and_cluster(tmp_path):
    """A live diagnosis over two clusters, one of which does not answer: latency per command
    and per cluster, read errors per command and cluster, which cluster was unreadable."""
    servers = await start_replay(Snapshot.open(DEMO))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}],
        "users": [{"name": "dead", "user": {"token": "t"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}]}))
    config = Config(clusters=[
        ClusterConfig(name="cluster1", context="cluster1", kubeconfig=str(kubeconfig)),
        ClusterConfig(name="cluster2", context="dead", kubeconfig=str(dead))])
    try:
        async with fast_slack() as slack, running_bot(
                slack, config=config, source=live_source(config, timeout=5)) as bot:
            await slack.api.wait_for(lambda: bot._authenticated)
            assert (await slack.client(url(bot)).slash_command("trust")).status == 200
            await bot.responder.drain(30)

            async def connected() -> bool:
                return (await _scrape(bot)).get('meshbot_slack_connected{mode="http"}') == 1.0
            await _until(connected)
            got = await _scrape(bot)
    finally:
        await servers.close()
    from bot import __version__

    (info,) = [k for k in got if k.startswith("meshbot_build_info{")]
    assert f'version="{__version__}"' in info and got[info] == 1.0
    for standard in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                     "process_start_time_seconds"):
        assert got[standard] > 0, standard
    assert any(k.startswith("python_info{") for k in got)
    assert any(k.startswith("python_gc_collections_total{") for k in got)
    assert got['meshbot_diagnosis_duration_seconds_count{command="trust"}'] == 1.0
    for cluster in ("cluster1", "cluster2"):
        key = f'meshbot_cluster_read_duration_seconds_count{{cluster="{cluster}",command="trust"}}'
        assert got[key] == 1.0, key
    assert got['meshbot_cluster_reachable{cluster="cluster1"}'] == 1.0
    assert got['meshbot_cluster_reachable{cluster="cluster2"}'] == 0.0
    errors = {k: v for k, v in got.items() if k.startswith("meshbot_cluster_errors_total{")}
    assert errors and all('command="trust"' in k and 'cluster="cluster2"' in k for k in errors)
