"""Live diagnoses in child processes (config `diagnosis.isolated`, bot/isolated.py): the
same report as a diagnosis in the bot's process, none of it diagnosed there, facts shared
through Redis, the command kept on a usage error, and a child killed mid-diagnosis degrading
to an answer from the bot's process."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import sys
from pathlib import Path

import msgspec
import pytest
import redis.asyncio as redis
import yaml

from bot.isolated import IsolatedDiagnoses, SourceSpec
from bot.serve import Bot
from bot.settings import Settings
from diagnostics.config import ClusterConfig, Config, DiagnosisConfig
from diagnostics.replay.runner import start_replay
from diagnostics.snapshot import Snapshot
from diagnostics.sources.caching import KEY_PREFIX
from diagnostics.sources.factory import live_source
from handlers import run
from handlers.commands import parse
from handlers.grammar import UsageError
from handlers.run import Answerer
from tests.bot_support import ASK, DEMO, fast_slack, finished, roots, url
from tests.scenario_support import comparable


@pytest.fixture
async def replayed(tmp_path: Path):
    """The demo mesh served by `meshbot replay`, and a config naming its two clusters."""
    servers = await start_replay(Snapshot.open(DEMO))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    config = Config(clusters=[ClusterConfig(name=n, context=n, kubeconfig=str(kubeconfig))
                              for n in ("cluster1", "cluster2")],
                    diagnosis=DiagnosisConfig(isolated=True))
    try:
        yield config
    finally:
        await servers.close()


def _refused(*args, **kwargs):
    raise AssertionError("diagnosed in the bot's process")


async def _in_process(config: Config, ask: str):
    source = live_source(config, timeout=10)
    try:
        return await run.answer(parse(ask, terminal=False), source, timeout=10)
    finally:
        await source.close()


async def test_a_child_gives_the_report_the_bots_process_would(replayed, redis_server,
                                                              monkeypatch):
    expected = await _in_process(replayed, ASK)
    isolated = IsolatedDiagnoses(SourceSpec(replayed, redis_server.url, 10.0), workers=2)
    monkeypatch.setattr(run, "diagnose_request", _refused)
    source = live_source(replayed, timeout=10)  # the bot's own, never read here
    try:
        answerer = Answerer(source, None, 10.0, isolated=isolated)
        first, second = await asyncio.gather(answerer.answer(parse(ASK, terminal=False)),
                                             answerer.answer(parse("trust", terminal=False)))
    finally:
        isolated.close()
        await source.close()
    assert comparable(first) == comparable(expected) and first.api_calls > 0
    assert second.command == "trust"
    # the children cached what they read in Redis, for every replica and the next child
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert await client.keys(f"{KEY_PREFIX}facts:*")
    finally:
        await client.aclose()


async def test_a_usage_error_in_a_child_keeps_its_command(replayed, redis_server):
    isolated = IsolatedDiagnoses(SourceSpec(replayed, None, 10.0), workers=1)
    try:
        with pytest.raises(UsageError) as refused:
            await isolated.diagnose(parse("trust --cluster nowhere", terminal=False), False)
    finally:
        isolated.close()
    assert refused.value.command == "trust" and "nowhere" in str(refused.value)


#: A child's work as the pool runs it, in a process of its own: its modules imported first (the
#: forkserver preloads them), then the collector's passes counted while it diagnoses.
CHILD = """
import gc, json, sys
from bot.isolated import SourceSpec, run_in_child
from diagnostics.config import ClusterConfig, Config
from handlers.commands import parse
import bot.logs, diagnostics.sources.factory, handlers.run
config = Config(clusters=[ClusterConfig(name=n, context=n, kubeconfig=sys.argv[1])
                          for n in ("cluster1", "cluster2")])
request = parse("proxy-status", terminal=False)  # imports what the command needs, before
passes = []
gc.callbacks.append(lambda phase, info: passes.append(info["generation"])
                    if phase == "start" else None)
report = run_in_child(SourceSpec(config, None, 10.0), request, False)
print(json.dumps([report.api_calls, passes, gc.isenabled()]))
"""


async def test_a_child_runs_no_collection_it_ends_with_its_diagnosis(replayed):
    """A child ends after its one diagnosis (max_tasks_per_child=1): reference counting frees
    what it makes, and its garbage goes with it, so the collector never runs (gcpause)."""
    kubeconfig = replayed.clusters[0].kubeconfig
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, kubeconfig, cwd=Path(__file__).parents[1],
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "REDIS_URL": ""})
    out, _ = await asyncio.wait_for(child.communicate(), 60)
    api_calls, passes, enabled = json.loads(out.decode().splitlines()[-1])
    assert child.returncode == 0 and api_calls > 0
    assert passes == [] and enabled is False


async def _kill_children(isolated: IsolatedDiagnoses, lost: set) -> None:
    """Kill the children of the pool diagnosing now (once one has started, and read for half
    a second: every answer takes 1.5 s), remembering the pool as lost."""
    for _ in range(400):
        pool = isolated._pool
        if pool is not None and pool not in lost and pool._processes:
            break
        await asyncio.sleep(0.05)
    assert pool is not None and pool not in lost and pool._processes
    await asyncio.sleep(0.5)
    lost.add(pool)
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("kills, in_bot", [(1, []), (2, ["trust"])])
async def test_a_child_killed_mid_diagnosis_is_retried_then_left_to_the_bot(
        tmp_path, monkeypatch, kills, in_bot):
    """The child is killed while it waits on a slow API server: the ask is diagnosed again in
    a new pool's child; killed there too, in the bot's process. The next ask is a child's."""
    servers = await start_replay(Snapshot.open(DEMO), latency_ms=1500)
    kubeconfig = tmp_path / "slow.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    config = Config(clusters=[ClusterConfig(name="cluster1", context="cluster1",
                                            kubeconfig=str(kubeconfig))])
    isolated = IsolatedDiagnoses(SourceSpec(config, None, 20.0), workers=1)
    real = run.diagnose_request
    in_process = []

    async def counted(*args):
        in_process.append(args[0].command)
        return await real(*args)

    monkeypatch.setattr(run, "diagnose_request", counted)
    source = live_source(config, timeout=20)
    answerer = Answerer(source, None, 20.0, isolated=isolated)
    lost: set = set()
    try:
        asked = asyncio.ensure_future(answerer.answer(parse("trust", terminal=False)))
        for _ in range(kills):
            await _kill_children(isolated, lost)
        report = await asked
        assert in_process == in_bot
        again = await answerer.answer(parse("trust", terminal=False))
        last_pool = isolated._pool
    finally:
        isolated.close()
        await source.close()
        await servers.close()
    assert report.command == again.command == "trust" and report.api_calls > 0
    assert in_process == in_bot  # the second was a child's again, in a pool not lost
    assert last_pool is not None and last_pool not in lost


async def test_a_bot_configured_isolated_answers_slack_from_children(replayed, redis_server,
                                                                     monkeypatch):
    expected = await _in_process(replayed, ASK)
    monkeypatch.setattr(run, "diagnose_request", _refused)
    async with fast_slack() as slack:
        settings = Settings(bot_token=slack.bot_token, signing_secret=slack.signing_secret,
                            api_url=slack.api.url, http_port=0, redis_url=redis_server.url)
        bot = Bot(settings, replayed, host="127.0.0.1")
        await bot.start(port=0)
        try:
            assert bot.isolated is not None
            resp = await slack.client(url(bot)).slash_command(ASK)
            assert resp.status == 200
            await bot.responder.drain(60)
        finally:
            await bot.stop(drain_seconds=5)
    (root,) = roots(slack)
    assert finished(root) and expected.summary and expected.summary in root.all_text


@pytest.mark.parametrize("isolated, redis, snapshot, expected", [
    (None, True, False, True),    # unset: isolated, facts shared through Redis
    (None, False, False, True),   # and without it, each child's facts its own: a flat bot
    (True, False, False, True),
    (False, True, False, False),
    (True, True, True, False),    # a snapshot is read in the bot's process
])
async def test_who_diagnoses_in_children(replayed, redis_server, isolated, redis, snapshot,
                                         expected):
    config = msgspec.structs.replace(replayed, diagnosis=DiagnosisConfig(isolated=isolated))
    settings = Settings(bot_token="xoxb-test", signing_secret="s", http_port=0,
                        redis_url=redis_server.url if redis else None,
                        snapshot=str(DEMO) if snapshot else None)
    bot = Bot(settings, config, host="127.0.0.1")
    try:
        assert (bot.isolated is not None) is expected
    finally:
        await bot.stop(drain_seconds=0)


async def test_a_started_bot_has_its_childrens_server_running_before_the_first_ask(
        replayed, redis_server):
    settings = Settings(bot_token="xoxb-test", signing_secret="s", http_port=0,
                        redis_url=redis_server.url)
    bot = Bot(settings, replayed, host="127.0.0.1")
    await bot.start(port=0)
    try:
        for _ in range(400):
            if multiprocessing.active_children():
                break
            await asyncio.sleep(0.05)
        assert multiprocessing.active_children()  # a child, its server started, unasked
    finally:
        await bot.stop(drain_seconds=0)


def test_what_children_preload_exists():
    """The server imports PRELOAD before forking: a misspelt module would be skipped silently
    and every child would import it again."""
    import importlib

    from bot.isolated import PRELOAD

    for name in PRELOAD:
        importlib.import_module(name)
