"""Every way into the bot passes one gate: channel permissions, user groups, the rate limit.
(Archives shared with a command, in a DM or with a mention, too: nothing is downloaded for a
user the gate refuses.)

The listeners are read from the bolt app itself, so a listener added later without a stimulus
here fails the first test; each one is then driven through the real bolt app over HTTP and Socket
Mode, by a user the gate refuses (no report, an ephemeral notice) and, as a control that the
stimulus reaches the listener at all, by one it admits.
"""

from __future__ import annotations

import functools
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

import pytest

from bot.answer_blocks import root_message
from bot.blocks import DETAILS_ACTION, RERUN_ACTION
from diagnostics.config import Config, Incidents, Permissions
from handlers.commands import parse
from tests.bot_support import SlackUser, slack_user
from tests.meshgen.bug_report import archive_bytes, render_bug_report
from tests.meshgen.scenarios import build
from tests.slackfake.files import share
from tests.slackfake.payloads import channel_created_event

TRANSPORTS = pytest.mark.parametrize("transport", ["http", "socket"])
BOB, ALICE = "U0BOB", "U0ALICE"  # S0ONCALL = [U0ALICE]
COMMAND = "trust"
WORK_METHODS = ("chat.postMessage", "chat.update", "files.upload", "files.getUploadURLExternal",
                "files.completeUploadExternal", "conversations.join", "files.info", "_files",
                "views.open", "views.update")


Stimulus = Callable[[SlackUser, str, str], Awaitable[None]]  # (user, who acts, root ts)


async def _root_with_buttons(user: SlackUser) -> str:
    """A root message carrying Re-run and Details for COMMAND, posted by the bot itself."""
    report = await user.bot.responder.answerer.answer(parse(COMMAND, terminal=False))
    ts = await user.bot.responder.poster.post("C0GENERAL", root_message(report, COMMAND))
    assert ts
    return ts


async def _slash(user: SlackUser, who: str, _root: str) -> None:
    await user.slash(COMMAND, user=who)


async def _mention(user: SlackUser, who: str, _root: str) -> None:
    callback = user.slack.socket.payloads.app_mention(f"<@U0MESHBOT> {COMMAND}", user=who)
    await _event(user, callback)


async def _message(user: SlackUser, who: str, _root: str) -> None:
    await _event(user, user.slack.socket.payloads.message(COMMAND, user=who))


async def _channel_created(user: SlackUser, who: str, _root: str) -> None:
    channel_id = f"C0NEW{who[2:]}"
    user.slack.state.add_channel(channel_id, f"inc-{who[2:].lower()}")
    inner = channel_created_event(channel_id=channel_id, name=f"inc-{who[2:].lower()}",
                                  creator=who, team="T0MESH")
    await _event(user, user.slack.socket.payloads.event(inner))


async def _event(user: SlackUser, callback: dict) -> None:
    if user.http:
        assert (await user.http.send(user.http.event_request(callback))).status == 200
    else:
        await user.slack.socket.wait_for_ack(await user.slack.socket.send_event(callback))


@functools.cache
def _archive() -> tuple[str, bytes]:
    """One cluster of the demo mesh as an istioctl bug-report archive."""
    members = render_bug_report(build("demo")[0], "1.30.0")["cluster1"]
    return "bug-report.tar.gz", archive_bytes(members)


def _upload(dm: bool) -> Stimulus:
    """`who` shares a bug-report with COMMAND: in meshbot's DM, or with a mention in #general."""
    async def upload(user: SlackUser, who: str, _root: str) -> None:
        channel = f"D0{who[2:]}" if dm else "C0GENERAL"
        if dm:
            user.slack.state.add_channel(channel, who.lower(), is_im=True,
                                         members={"U0MESHBOT", who})
        inner, _ = share(user.slack.api, user=who, channel=channel, text=COMMAND,
                         files=[_archive()])
        await _event(user, user.slack.socket.payloads.event(inner))
    return upload


def _click(action_id: str) -> Stimulus:
    async def click(user: SlackUser, who: str, root: str) -> None:
        if user.http:
            resp = await user.http.click(channel="C0GENERAL", message_ts=root,
                                         action_id=action_id, user=who)
            assert resp.status == 200
        else:
            await user.slack.socket.wait_for_ack(await user.slack.socket.click(
                channel="C0GENERAL", message_ts=root, action_id=action_id, user=who))
    return click


# bolt listener function (slack_app.py) -> how a person in Slack triggers it
STIMULI: dict[str, Stimulus] = {
    "on_mesh": _slash,
    "on_mention": _mention,
    "on_message": _message,
    "on_channel_created": _channel_created,
    "on_rerun": _click(RERUN_ACTION),
    "on_details": _click(DETAILS_ACTION),
    "on_file_share": _upload(dm=True),
}
# More ways into a listener: a mention that shares an archive is an upload too.
ENTRIES: dict[str, Stimulus] = {**STIMULI, "on_mention+archive": _upload(dm=False)}
RESTRICTED = Permissions(restricted_commands={c: ["S0ONCALL"] for c in
                                              ("trust", "digest", "why-local-only")})
DENIALS = {
    "user-group": (RESTRICTED, "restricted to members of <!subteam^S0ONCALL>"),
    "channel": (Permissions(channels={c: ["help"] for c in ("C0GENERAL", "D0BOB", "D0ALICE")}),
                "not enabled in this channel"),
    "rate-limit": (Permissions(diagnoses_per_user_per_minute=1), "diagnoses in the last minute"),
}
# A channel that did not exist cannot be listed under permissions.channels: nothing to refuse.
CASES = [(entry, denial) for entry in ENTRIES for denial in DENIALS
         if not (entry == "on_channel_created" and denial == "channel")]


def _config(permissions: Permissions) -> Config:
    return Config(permissions=permissions, incidents=Incidents(channel_name_patterns=["inc-*"]))


@asynccontextmanager
async def _bot(transport: str, permissions: Permissions) -> AsyncIterator[SlackUser]:
    async with slack_user(transport, config=_config(permissions)) as user:
        yield user


def _bot_messages(user: SlackUser) -> list:
    return [m for m in user.slack.api.messages(include_replies=True) if m.bot_id]


def _work(user: SlackUser, since: int) -> list:
    """Web API calls that post, edit, upload or join: the work a gated listener must not do."""
    return [c for c in user.slack.api.calls()[since:] if c.method in WORK_METHODS]


async def test_every_registered_listener_has_a_gate_test():
    async with _bot("http", RESTRICTED) as user:
        listeners = user.bot.app._async_listeners  # bolt's own list of what it dispatches to
        names = [listener.ack_function.__name__ for listener in listeners]
    assert len(names) == len(set(names))
    assert set(names) == set(STIMULI), "a listener without a gate test (add it to STIMULI)"


@TRANSPORTS
@pytest.mark.parametrize("entry, denial", CASES)
async def test_a_refused_user_gets_a_notice_and_no_report_from_any_entry_point(
        transport, entry, denial):
    permissions, notice = DENIALS[denial]
    async with _bot(transport, permissions) as user:
        if denial == "rate-limit":  # Bob spends his one diagnosis of the minute
            # The limit counts per clock minute: a test that crossed a minute's end would
            # find Bob's allowance renewed. The gate's clock stands still mid-minute instead.
            user.bot.responder.gate.clock = lambda: 1_800_000_030.0
            await user.slash(COMMAND, user=BOB)
            await user.settled()
        root = await _root_with_buttons(user)
        before, posted = len(user.slack.api.calls()), len(_bot_messages(user))
        await ENTRIES[entry](user, BOB, root)
        await user.settled()
        assert [c.method for c in _work(user, before)] == [], "work done for a refused user"
        assert not user.slack.api.files()
        assert len(_bot_messages(user)) == posted
        assert len(user.slack.api.thread("C0GENERAL", root)) == 1
        notices = [e.text for e in user.slack.api.ephemerals(user=BOB)]
        if entry in ("on_message", "on_channel_created"):  # nobody asked: nothing to tell
            assert notices == []
        else:
            assert len(notices) == 1 and notice in notices[0], notices


@TRANSPORTS
@pytest.mark.parametrize("entry", sorted(ENTRIES))
async def test_an_admitted_user_gets_the_answer_from_every_entry_point(transport, entry):
    """The control: the same stimulus from a member of the group is answered, so the refusals
    above come from the gate, not from a stimulus that never reached the listener."""
    async with _bot(transport, RESTRICTED) as user:
        root = await _root_with_buttons(user)
        before = len(user.slack.api.calls())
        await ENTRIES[entry](user, ALICE, root)
        await user.settled()
        methods = {c.method for c in _work(user, before)}
        assert not user.slack.api.ephemerals(user=ALICE)
        if entry == "on_message":
            assert methods == set()  # plain messages are never answered
        elif entry == "on_details":
            assert methods == {"views.open", "views.update"}  # the evidence, in a modal
        elif entry == "on_channel_created":
            assert "conversations.join" in methods and "chat.postMessage" in methods
        else:
            assert "chat.update" in methods  # the progress message became the verdict
