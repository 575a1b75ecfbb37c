"""`meshbot serve` as a process: environment in, a threaded answer in the fake Slack out."""

from __future__ import annotations

import asyncio

import json
from pathlib import Path

import aiohttp
import pytest
import yaml

from diagnostics.replay.runner import start_replay
from diagnostics.snapshot import Snapshot

from tests.bot_support import (ASK, DEMO, fast_slack, finished, free_port, roots,
                                start_serve, stop_serve, texts, wait_healthy)


@pytest.mark.parametrize("socket_mode,clusters", [(False, "snapshot"), (True, "replay"),
                                                  (False, "replay-redis")],
                         ids=["http-snapshot", "socket-mode-replay", "http-replay-isolated"])
async def test_serve_answers_a_slash_command_with_a_thread(socket_mode, clusters, tmp_path,
                                                           request):
    """HTTP mode answers from MESHBOT_SNAPSHOT; Socket Mode reads the demo mesh served by
    `meshbot replay` through a config file, as a deployment outside the clusters would; each
    live diagnosis runs in a child process (diagnosis.isolated unset), with Redis or not."""
    servers = await start_replay(Snapshot.open(DEMO)) if clusters != "snapshot" else None
    async with fast_slack() as slack:
        port = free_port()
        env = {**slack.env(socket_mode=socket_mode), "MESHBOT_HTTP_PORT": str(port),
               "LOG_FORMAT": "json"}
        if clusters == "replay-redis":
            env["REDIS_URL"] = request.getfixturevalue("redis_server").url
        if servers:
            env["MESHBOT_CONFIG"] = str(_config_for(servers, tmp_path))
        else:
            env["MESHBOT_SNAPSHOT"] = str(DEMO)
        proc = start_serve(env)
        try:
            await wait_healthy(port, proc)
            if socket_mode:
                await slack.socket.wait_for_open(1, timeout=20)
                await slack.socket.wait_for_ack(await slack.socket.send_slash_command(ASK))
            else:
                resp = await slack.client(f"http://127.0.0.1:{port}").slash_command(ASK)
                assert resp.status == 200

            def answered():  # the root, two replies, then the picture (a multicluster finding)
                rs = [m for m in roots(slack) if finished(m)]
                thread = slack.api.thread("C0GENERAL", rs[0].ts) if rs else []
                return rs if len(texts(thread)) == 3 and len(thread) == 4 else None
            (root,) = await slack.api.wait_for(answered, timeout=30)
            assert "PROBLEM" in root.all_text
            metrics = await _scrape_answered(port)
        finally:
            logs = stop_serve(proc)
            if servers:
                await servers.close()
    assert slack.bot_token not in logs and slack.signing_secret not in logs
    assert slack.app_token not in logs
    # slack-bolt warns when it finds SLACK_BOT_TOKEN in the environment next to our client.
    assert "will be unused" not in logs and "Traceback" not in logs
    errors = [line for line in logs.splitlines() if line.startswith("{")
              and json.loads(line).get("level") in ("error", "critical")]
    assert errors == []
    _assert_one_request_id(logs, root.ts)
    _assert_metrics(metrics, live=servers is not None)
    (serving,) = [json.loads(line) for line in logs.splitlines()
                  if line.startswith("{") and json.loads(line).get("event") == "serving"]
    assert serving["isolated"] is (clusters != "snapshot")


def _config_for(servers, tmp_path) -> Path:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(servers.kubeconfig()))
    config = tmp_path / "meshbot.yaml"
    config.write_text(yaml.safe_dump({"clusters": [
        {"name": name, "context": name, "kubeconfig": str(kubeconfig)}
        for name in ("cluster1", "cluster2")]}))
    return config


async def _scrape_answered(port: int) -> str:
    """/metrics once the answer is counted: the thread's last replies and the counter land
    after the messages a reader already sees (bounded wait, no sleep on the happy path)."""
    for _ in range(100):
        text = await _scrape(port)
        if 'meshbot_commands_total{command="why-local-only"' in text:
            return text
        await asyncio.sleep(0.1)
    return text


async def _scrape(port: int) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
            assert r.status == 200
            return await r.text()


def _assert_one_request_id(logs: str, root_ts: str) -> None:
    """The ack, the answer and the audit line of one command share one request id."""
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    (accepted,) = [line for line in lines if line.get("event") == "accepted"]
    rid = accepted["request_id"]
    assert accepted["trigger"] == "slash" and accepted["channel"] == "C0GENERAL"
    (answered,) = [line for line in lines if line.get("event") == "answered"]
    assert answered["request_id"] == rid and answered["thread_ts"] == root_ts
    (audited,) = [line for line in lines if line.get("event") == "command"]
    assert audited["request_id"] == rid and audited["command"] == "why-local-only"
    assert audited["verdict"] == "problem" and audited["cached"] is False


def _assert_metrics(text: str, *, live: bool) -> None:
    """One diagnosis of the demo mesh shows up in every series an operator graphs; API calls
    per cluster only when clusters were really read (a snapshot makes none)."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    commands = [n for n in samples if n.startswith("meshbot_commands_total{")]
    assert any('command="why-local-only"' in n and 'trigger="slash"' in n
               and samples[n] == 1 for n in commands), commands
    assert samples['meshbot_diagnosis_duration_seconds_count{command="why-local-only"}'] == 1
    per_cluster = {n: v for n, v in samples.items()
                   if n.startswith("meshbot_cluster_api_calls_total{")}
    if live:
        assert sorted(per_cluster) == ['meshbot_cluster_api_calls_total{cluster="cluster1"}',
                                       'meshbot_cluster_api_calls_total{cluster="cluster2"}']
        assert all(v > 0 for v in per_cluster.values()), per_cluster
    else:
        assert per_cluster == {}
    assert samples['meshbot_cache_total{result="miss"}'] >= 1
    assert samples["meshbot_diagnoses_in_flight"] == 0


def test_serve_without_tokens_is_a_usage_error():
    proc = start_serve({"MESHBOT_SNAPSHOT": str(DEMO)})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "SLACK_BOT_TOKEN is not set" in err
    assert "Traceback" not in err
