"""Archives shared in Slack with a command, diagnosed in the file's thread (bot/uploads.py).

Through the real bolt app over HTTP and Socket Mode and the fake Slack's file API
(tests/slackfake/files.py): the file is shared with `@meshbot <command>` in a channel or in
meshbot's DM, described by files.info, downloaded from url_private with the bot token, read as
a snapshot, answered in the file's thread, and its private folder removed. Bad archives get an
ephemeral answer saying what is wrong, and nothing is left behind.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest

from diagnostics.config import Config, UploadsConfig
from tests.bot_support import DEMO, SlackUser, fast_slack, running_bot, slack_user
from tests.bug_report_secrets import leaks, plant
from tests.meshgen.bug_report import archive_bytes, render_bug_report
from tests.meshgen.scenarios import build
from tests.slackfake.files import share

TRANSPORTS = pytest.mark.parametrize("transport", ["http", "socket"])
ASK = "why-local-only helloworld -n sample"
DM = "D0ALICE"


@pytest.fixture(scope="module")
def archives() -> list[tuple[str, bytes]]:
    """The demo mesh as istioctl 1.30 wrote it, one bug-report.tar.gz per cluster."""
    members = render_bug_report(build("demo")[0], "1.30.0", full_secrets=True)
    return [(f"{cid}-bug-report.tar.gz", archive_bytes(m)) for cid, m in members.items()]


@pytest.fixture(scope="module")
def snapshot_archive() -> tuple[str, bytes]:
    """meshbot's own snapshot of the demo mesh, as `meshbot snapshot --out x.tar.gz` writes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(DEMO, arcname="demo-mesh")
    return "demo-mesh.tar.gz", out.getvalue()


@asynccontextmanager
async def _bot(transport: str, tmp_path: Path, config: Config | None = None,
               **slack_kw) -> AsyncIterator[SlackUser]:
    async with slack_user(transport, config=config, **slack_kw) as user:
        user.slack.state.add_channel(DM, "alice", is_im=True, members={"U0MESHBOT", "U0ALICE"})
        user.bot.responder.uploads.root = tmp_path  # where the private folders are made
        yield user


async def _share(user: SlackUser, text: str, files: list[tuple[str, bytes]],
                 channel: str = "C0GENERAL", who: str = "U0ALICE") -> str:
    """`who` shares `files` with `text`; returns the ts of the sharing message (the thread)
    once meshbot has answered it (in the thread, or with a notice)."""
    inner, _ = share(user.slack.api, user=who, channel=channel, text=text, files=files)
    notices = len(user.slack.api.ephemerals(user=who))
    callback = user.slack.socket.payloads.event(inner)
    if user.http:
        assert (await user.http.send(user.http.event_request(callback))).status == 200
    else:
        await user.slack.socket.wait_for_ack(await user.slack.socket.send_event(callback))
    # Slack has its ack; the listener may still be deduplicating (Redis) before it spawns.
    await user.slack.api.wait_for(lambda: _replies(user, channel, inner["ts"]) or len(
        user.slack.api.ephemerals(user=who)) > notices, timeout=30)
    await user.settled()
    return inner["ts"]


def _replies(user: SlackUser, channel: str, ts: str) -> list:
    return [m for m in user.slack.api.thread(channel, ts) if m.bot_id]


def _downloads(user: SlackUser) -> list:
    return user.slack.api.calls("_files")


@TRANSPORTS
async def test_archives_shared_with_a_mention_are_answered_in_the_files_thread(
        transport, tmp_path, archives):
    async with _bot(transport, tmp_path) as user:
        ts = await _share(user, ASK, archives)
        replies = _replies(user, "C0GENERAL", ts)
        assert replies, "no answer in the file's thread"
        root = replies[0]
        assert "PROBLEM" in root.all_text and "remote-secret-missing" in " ".join(
            m.all_text for m in replies)
        assert "istioctl 1.30.0 bug-report" in root.all_text
        assert not [b for b in root.blocks if b["type"] == "actions"]  # no Re-run on an upload
        infos = user.slack.api.calls("files.info")
        assert len(infos) == 2 and all(c.token == user.slack.bot_token for c in infos)
        assert [c.status for c in _downloads(user)] == [200, 200]
        assert all(c.token == user.slack.bot_token for c in _downloads(user))
        assert not user.slack.api.ephemerals()
    assert list(tmp_path.iterdir()) == []


@TRANSPORTS
async def test_meshbots_own_snapshot_shared_in_the_dm_is_answered_there(
        transport, tmp_path, snapshot_archive):
    async with _bot(transport, tmp_path) as user:
        ts = await _share(user, "trust", [snapshot_archive], channel=DM)
        replies = _replies(user, DM, ts)
        assert replies and "a meshbot snapshot" in replies[0].all_text
        assert "`/mesh trust`" in replies[0].all_text
    assert list(tmp_path.iterdir()) == []


async def test_an_archive_shared_without_a_command_gets_the_health_digest(tmp_path, archives):
    async with _bot("http", tmp_path) as user:
        ts = await _share(user, "", archives, channel=DM)
        assert "`/mesh digest`" in _replies(user, DM, ts)[0].all_text


def _member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 1, link: str = "") -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = size if kind == tarfile.REGTYPE else 0
    return info.tobuf() + (bytes(512) if kind == tarfile.REGTYPE else b"")


def _raw_tar(*headers: bytes) -> bytes:
    return gzip.compress(b"".join(headers) + bytes(1024))


CONTEXT = _member("bug-report/cluster/cluster-context")
BAD = {
    "not-gzip": (b"<html>an HTML page, not an archive</html>",
                 "is not a gzip-compressed archive"),
    "gzip-not-tar": (gzip.compress(b"just some text\n" * 10), "not a directory or a .tar.gz"),
    "traversal": (_raw_tar(CONTEXT, _member("bug-report/../../../etc/cron.d/x")),
                  "points outside the archive"),
    "symlink": (_raw_tar(CONTEXT, _member("bug-report/cluster/pods", tarfile.SYMTYPE,
                                          link="/etc/shadow")), "is a symbolic link"),
    "bomb": (_raw_tar(CONTEXT, _member("bug-report/cluster/k8s-resources", size=1 << 40)),
             "a member may have at most"),
    "foreign": (_raw_tar(_member("holiday/photo.jpg")), "an istioctl bug-report"),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_a_bad_archive_gets_a_clear_answer_and_leaves_nothing(tmp_path, case):
    data, message = BAD[case]
    async with _bot("http", tmp_path) as user:
        ts = await _share(user, ASK, [("bug-report.tar.gz", data)])
        notices = [e.text for e in user.slack.api.ephemerals(user="U0ALICE")]
        assert len(notices) == 1 and message in notices[0], notices
        assert "'bug-report.tar.gz'" in notices[0] or case in ("traversal", "symlink", "bomb",
                                                                 "foreign", "gzip-not-tar")
        assert "/tmp" not in notices[0] and str(tmp_path) not in notices[0]
        assert _replies(user, "C0GENERAL", ts) == []
    assert list(tmp_path.iterdir()) == []


async def test_too_many_files_and_too_big_archives_are_refused(tmp_path, archives):
    config = Config(uploads=UploadsConfig(max_archive_mib=1, max_files=10))
    big = ("big.tar.gz", gzip.compress(bytes(3 * 1024 * 1024)) + b"x" * (2 * 1024 * 1024))
    async with _bot("socket", tmp_path, config) as user:
        await _share(user, ASK, [big])
        await _share(user, ASK, archives[:1])
        notices = [e.text for e in user.slack.api.ephemerals(user="U0ALICE")]
        assert "'big.tar.gz' is 2 MiB; meshbot reads archives of at most 1 MiB" in notices[0]
        assert "holds more than 10 files" in notices[1]
        assert len(_downloads(user)) == 1  # the big one was never downloaded
    assert list(tmp_path.iterdir()) == []


async def test_without_files_read_slack_does_not_hand_the_file_over(tmp_path, archives):
    from tests.slackfake.state import DEFAULT_SCOPES

    async with _bot("http", tmp_path, scopes=set(DEFAULT_SCOPES) - {"files:read"}) as user:
        await _share(user, ASK, archives)
        notice = user.slack.api.ephemerals(user="U0ALICE")[0].text
        assert "the app needs the files:read scope" in notice
    assert list(tmp_path.iterdir()) == []


async def test_the_bot_token_goes_to_slacks_file_host_only(tmp_path, archives):
    async with _bot("http", tmp_path) as user:
        inner, files = share(user.slack.api, user="U0ALICE", channel="C0GENERAL", text=ASK,
                             files=archives[:1])
        files[0].url = "https://files.example.com/steal"
        await user.http.send(user.http.event_request(user.slack.socket.payloads.event(inner)))
        await user.slack.api.wait_for(lambda: user.slack.api.ephemerals(user="U0ALICE"))
        await user.settled()
        notice = user.slack.api.ephemerals(user="U0ALICE")[0].text
        assert "no download address" in notice and _downloads(user) == []


@TRANSPORTS
async def test_no_planted_secret_reaches_slack_or_the_logs(transport, tmp_path, capfd,
                                                           redis_server):
    members = render_bug_report(build("demo")[0], "1.30.0", full_secrets=True)
    planted = [(f"{cid}.tar.gz", archive_bytes(plant(m))) for cid, m in members.items()]
    async with fast_slack() as slack, running_bot(slack, socket_mode=transport == "socket",
                                                  redis_url=redis_server.url) as bot:
        user = SlackUser(slack, bot, transport)
        bot.responder.uploads.root = tmp_path
        for command in ("remote-clusters", ASK, "check deploy/sleep -n sample", "digest"):
            await _share(user, command, planted)
        posted = [m.all_text for m in user.slack.api.messages(include_replies=True) if m.bot_id]
        assert any("istio-remote-secret-cluster1" in t for t in posted)
        files = [f.text for f in user.slack.api.files()]
        notices = [e.text for e in user.slack.api.ephemerals()]
    out, err = capfd.readouterr()
    assert leaks("\n".join(posted + files + notices + [out, err])) == []
    import redis

    client = redis.Redis.from_url(redis_server.url)
    assert leaks("\n".join(str(client.dump(k)) for k in client.scan_iter("*"))) == []
    assert list(tmp_path.iterdir()) == []
