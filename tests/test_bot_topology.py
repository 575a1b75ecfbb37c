"""The topology picture in Slack, through the real bolt app over HTTP and the fake Slack's file
API (files.getUploadURLExternal, the upload, files.completeUploadExternal): posted in the
answer's thread after its text, attached only where a multicluster finding explains the
answer, and left out, with the text intact, when dot is missing or fails."""

from __future__ import annotations

import stat
from pathlib import Path

from structlog.testing import capture_logs

from tests.bot_support import ASK, DEMO, fast_slack, finished, roots, running_bot, url

REPO = Path(__file__).resolve().parents[1]
HEALTHY = REPO / "tests" / "scenarios" / "healthy" / "snapshot"
PNG = b"\x89PNG\r\n\x1a\n"


async def ask(slack, bot, text: str):
    await slack.client(url(bot)).slash_command(text)
    await bot.responder.drain(30)
    (root,) = roots(slack)
    assert finished(root)
    return root


def last_text_call(slack) -> int:
    calls = slack.api.calls()
    return max(i for i, c in enumerate(calls) if c.method in ("chat.postMessage", "chat.update"))


def upload_calls(slack) -> list[int]:
    return [i for i, c in enumerate(slack.api.calls())
            if c.method in ("files.getUploadURLExternal", "files.completeUploadExternal")]


async def test_mesh_topology_posts_its_text_then_the_picture_in_the_thread():
    async with fast_slack() as slack, running_bot(slack) as bot:
        root = await ask(slack, bot, "topology")
        assert "secret for cluster2" in root.all_text  # the verdict, as for any command
        replies = slack.api.thread("C0GENERAL", root.ts)[1:]
        assert any("remote-secret-missing" in m.all_text for m in replies)
        (picture,) = slack.api.files()
        assert picture.filename == "mesh-topology.png" and picture.completed
        assert picture.thread_ts == root.ts and picture.channel == "C0GENERAL"
        assert picture.content.startswith(PNG)
        uploads = upload_calls(slack)
        assert len(uploads) == 2 and min(uploads) > last_text_call(slack)


async def test_a_multicluster_answer_gets_the_picture_a_healthy_one_does_not():
    async with fast_slack() as slack, running_bot(slack) as bot:
        root = await ask(slack, bot, ASK)  # the demo: cluster1 has no secret for cluster2
        (picture,) = slack.api.files()
        assert picture.thread_ts == root.ts and picture.content.startswith(PNG)
    async with fast_slack() as slack, running_bot(slack, snapshot=HEALTHY) as bot:
        root = await ask(slack, bot, ASK)
        assert "HEALTHY" in root.all_text.upper()
        assert slack.api.files() == [] and upload_calls(slack) == []


async def test_without_a_working_dot_the_text_answer_is_whole_and_the_reason_logged(
        tmp_path, monkeypatch):
    dot = tmp_path / "dot"
    dot.write_text("#!/bin/sh\necho 'dot: cannot find fonts' >&2\nexit 3\n")
    dot.chmod(dot.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("MESHBOT_DOT", str(dot))
    async with fast_slack() as slack, running_bot(slack, snapshot=DEMO) as bot:
        with capture_logs() as logs:
            root = await ask(slack, bot, "topology")
        replies = slack.api.thread("C0GENERAL", root.ts)[1:]
        assert any("remote-secret-missing" in m.all_text for m in replies)
        assert slack.api.files() == [] and upload_calls(slack) == []
        (omitted,) = [e for e in logs if e["event"] == "picture_omitted"]
        assert "dot failed (exit 3): dot: cannot find fonts" in omitted["reason"]
        assert not [e for e in logs if e["log_level"] in ("error", "critical")]
