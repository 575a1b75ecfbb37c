"""`meshbot serve` as a process when its setup is wrong or Slack is out of reach.

A cluster source that cannot be built is a usage error (one paragraph on stderr, exit 2); an
unreachable Socket Mode endpoint leaves the bot up (health, metrics, signals) and not ready, and
the bot connects once the endpoint is back.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.bot_support import (ASK, DEMO, fast_slack, finished, free_port, roots,
                                start_serve, wait_healthy)

TOKENS = {"SLACK_BOT_TOKEN": "xoxb-meshbot-usage-test",
          "SLACK_SIGNING_SECRET": "usage-test-signing-secret"}
BOLT_TOKEN_WARNING = "will be unused"


def _usage_error(env: dict[str, str], home: Path) -> str:
    """Run serve, expect exit 2 with one `meshbot: ...` paragraph; return it."""
    proc = start_serve({**TOKENS, "MESHBOT_HTTP_PORT": str(free_port()), **env}, home=home)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meshbot: "), err
    assert not any(secret in err for secret in TOKENS.values())
    return lines[0]


def _kubeconfig(path: Path, context: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": context, "user": {"token": "unused"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}]}))
    return path


def test_a_config_naming_a_missing_kubeconfig_context_is_a_usage_error(tmp_path):
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig", "kind-other")
    config = tmp_path / "meshbot.yaml"
    config.write_text(yaml.safe_dump({"clusters": [{"name": "cluster1",
                                                    "context": "kind-cluster1"}]}))
    message = _usage_error({"MESHBOT_CONFIG": str(config), "KUBECONFIG": str(kubeconfig)},
                           tmp_path)
    assert "'kind-cluster1'" in message and str(config) in message
    for variable in ("MESHBOT_CONFIG", "KUBECONFIG", "MESHBOT_SNAPSHOT"):
        assert variable in message


def test_no_config_no_snapshot_and_no_kubeconfig_is_a_usage_error(tmp_path):
    message = _usage_error({}, tmp_path)
    assert "no cluster to read" in message
    for variable in ("MESHBOT_CONFIG", "KUBECONFIG", "MESHBOT_SNAPSHOT"):
        assert variable in message


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "no-such-snapshot"


def _not_an_archive(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.tar.gz"
    path.write_bytes(b"this is not gzip")
    return path


def _malformed_metadata(tmp_path: Path) -> Path:
    root = tmp_path / "snapshot"
    (root / "clusters" / "cluster1").mkdir(parents=True)
    (root / "snapshot.yaml").write_text("format: [unclosed\n")
    return root


@pytest.mark.parametrize("make", [_missing, _not_an_archive, _malformed_metadata],
                         ids=["missing", "not-an-archive", "malformed-snapshot-yaml"])
def test_an_unreadable_snapshot_is_a_usage_error(make, tmp_path):
    snapshot = make(tmp_path)
    message = _usage_error({"MESHBOT_SNAPSHOT": str(snapshot)}, tmp_path)
    assert message.startswith("meshbot: MESHBOT_SNAPSHOT cannot be read: ")
    assert str(snapshot) in message


@pytest.mark.parametrize("text,problem", [
    (None, "cannot read"),
    ("clusters: [unclosed\n", "malformed YAML"),
    ("clusters:\n  - name: c1\n    contxt: kind-c1\n", "clusters[0].contxt: unknown key"),
], ids=["missing", "malformed-yaml", "unknown-key"])
def test_an_invalid_config_file_is_a_usage_error(text, problem, tmp_path):
    config = tmp_path / "meshbot.yaml"
    if text is not None:
        config.write_text(text)
    message = _usage_error({"MESHBOT_CONFIG": str(config), "MESHBOT_SNAPSHOT": str(DEMO)},
                           tmp_path)
    assert message.startswith("meshbot: MESHBOT_CONFIG is not a usable config file: ")
    assert str(config) in message and problem in message


# --------------------------------------------------------------------- Socket Mode out of reach

async def _get(port: int, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}{path}") as r:
            return r.status, await r.json()


async def _signal_and_wait(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> str:
    """Send `sig`; the process must exit 0 in a generous time. The wait runs in a thread so the
    fake Slack (on this event loop) keeps answering while the bot shuts down."""
    proc.send_signal(sig)
    try:
        _, err = await asyncio.to_thread(proc.communicate, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return err


def _events(logs: str) -> list[dict]:
    return [json.loads(line) for line in logs.splitlines() if line.startswith("{")]


def _assert_clean(logs: str, slack) -> None:
    """No secret, no ticket, no traceback, no error, no bolt warning about the token."""
    for secret in (slack.bot_token, slack.app_token, slack.signing_secret, "ticket="):
        assert secret not in logs
    assert "Traceback" not in logs and BOLT_TOKEN_WARNING not in logs
    assert [e for e in _events(logs) if e.get("level") in ("error", "critical")] == []


def _socket_env(slack, port: int) -> dict[str, str]:
    return {**slack.env(socket_mode=True), "MESHBOT_HTTP_PORT": str(port),
            "MESHBOT_SNAPSHOT": str(DEMO), "LOG_FORMAT": "json"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_is_up_but_not_ready_while_socket_mode_is_unreachable(sig, tmp_path):
    async with fast_slack() as slack:
        slack.socket.refuse_connections()
        port = free_port()
        proc = start_serve(_socket_env(slack, port), home=tmp_path)
        try:
            await wait_healthy(port, proc)
            # A second URL is asked for only after the first attempt failed and was logged.
            await slack.api.wait_for(lambda: slack.socket.refused_urls >= 2, timeout=30)
            status, ready = await _get(port, "/readyz")
            assert status == 503 and ready["slack"] is False and ready["sources"] is True
            status, _ = await _get(port, "/healthz")
            assert status == 200
        finally:
            logs = await _signal_and_wait(proc, sig)
    assert slack.socket.total_connections == 0
    events = _events(logs)
    (serving,) = [e for e in events if e.get("event") == "serving"]
    assert serving["mode"] == "socket" and serving["port"] == port
    failures = [e for e in events if e.get("event") == "slack_connect_failed"]
    assert len(failures) >= 1 and failures[0]["attempt"] == 1
    assert all(e["level"] == "warning" and "Cannot connect" in e["error"] for e in failures)
    assert not [e for e in events if e.get("event") == "slack_connected"]
    assert [e for e in events if e.get("event") == "stopped"]
    _assert_clean(logs, slack)


async def test_serve_connects_once_socket_mode_is_reachable_and_answers(tmp_path):
    async with fast_slack() as slack:
        slack.socket.refuse_connections(times=2)
        port = free_port()
        proc = start_serve(_socket_env(slack, port), home=tmp_path)
        try:
            await wait_healthy(port, proc)
            await slack.socket.wait_for_open(1, timeout=30)

            async def ready() -> bool:
                status, body = await _get(port, "/readyz")
                return status == 200 and body["slack"] is True
            for _ in range(100):
                if await ready():
                    break
                await asyncio.sleep(0.05)
            assert await ready()
            await slack.socket.wait_for_ack(await slack.socket.send_slash_command(ASK))
            (root,) = await slack.api.wait_for(
                lambda: [m for m in roots(slack) if finished(m)] or None, timeout=30)
            assert "PROBLEM" in root.all_text
        finally:
            logs = await _signal_and_wait(proc)
    # Every attempt asked Slack for a fresh (single-use) URL instead of retrying a dead one.
    assert slack.socket.refused_urls == 2
    assert len(slack.api.calls("apps.connections.open")) == 3
    events = _events(logs)
    assert [e["attempt"] for e in events if e.get("event") == "slack_connect_failed"] == [1, 2]
    (connected,) = [e for e in events if e.get("event") == "slack_connected"]
    assert connected["attempts"] == 3
    _assert_clean(logs, slack)


def test_a_port_in_use_is_a_usage_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start_serve({**TOKENS, "MESHBOT_HTTP_PORT": str(port),
                            "MESHBOT_SNAPSHOT": str(DEMO)}, home=tmp_path)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "Traceback" not in err and not any(secret in err for secret in TOKENS.values())
    message = err.strip().splitlines()[-1]
    assert message.startswith(f"meshbot: cannot serve HTTP on port {port} (MESHBOT_HTTP_PORT): ")
