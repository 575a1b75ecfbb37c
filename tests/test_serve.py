"""`meshbot serve` as a process: environment in, a threaded answer in the fake Slack out."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiohttp
import pytest

from tests.bot_support import ASK, DEMO, REPO, fast_slack, finished, roots


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _healthy(port: int, proc: subprocess.Popen) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "exited"
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("meshbot serve did not come up")


def _start(env: dict[str, str]) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MESHBOT_"))}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=REPO,
                            env={**clean, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    return err


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http", "socket-mode"])
async def test_serve_answers_a_slash_command_with_a_thread(socket_mode):
    async with fast_slack() as slack:
        port = free_port()
        env = {**slack.env(socket_mode=socket_mode), "MESHBOT_SNAPSHOT": str(DEMO),
               "MESHBOT_HTTP_PORT": str(port), "LOG_FORMAT": "json"}
        proc = _start(env)
        try:
            await _healthy(port, proc)
            if socket_mode:
                await slack.socket.wait_for_open(1, timeout=20)
                await slack.socket.wait_for_ack(await slack.socket.send_slash_command(ASK))
            else:
                resp = await slack.client(f"http://127.0.0.1:{port}").slash_command(ASK)
                assert resp.status == 200

            def answered():
                rs = [m for m in roots(slack) if finished(m)]
                return rs if rs and len(slack.api.thread("C0GENERAL", rs[0].ts)) >= 14 else None
            (root,) = await slack.api.wait_for(answered, timeout=30)
            assert "PROBLEM" in root.all_text
        finally:
            logs = _stop(proc)
    assert slack.bot_token not in logs and slack.signing_secret not in logs
    assert slack.app_token not in logs
    assert '"event": "command"' in logs and '"verdict": "problem"' in logs  # the audit line


def test_serve_without_tokens_is_a_usage_error():
    proc = _start({"MESHBOT_SNAPSHOT": str(DEMO)})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "SLACK_BOT_TOKEN is not set" in err
    assert "Traceback" not in err
