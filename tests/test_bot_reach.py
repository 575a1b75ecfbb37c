"""Every asker gets an answer, whether or not meshbot is a member of the channel asked in.

The fake Slack models membership as Slack does: chat.postMessage and chat.postEphemeral answer
`not_in_channel` in a public channel the bot has not joined and `channel_not_found` in a private
one; conversations.join works for public channels with `channels:join`; a command's
response_url posts anywhere, five times within 30 minutes. Through the real bolt app, on both
transports.
"""

from __future__ import annotations

import pytest

from bot.blocks import DETAILS_ACTION, RERUN_ACTION
from diagnostics.config import Config, Permissions
from tests.bot_support import ASK, roots, slack_user, texts
from tests.slackfake.state import DEFAULT_SCOPES, all_text

TRANSPORTS = pytest.mark.parametrize("transport", ["http", "socket"])
PRIVATE = "C0PRIVATE"  # a private channel Alice is in and the bot is not


def _private(slack) -> None:
    slack.state.add_channel(PRIVATE, "ops-private", members={"U0ALICE", "U0BOB"},
                            is_private=True)


def _posted(slack, channel: str, method: str = "chat.postMessage") -> list:
    return [c for c in slack.api.calls(method) if c.args.get("channel") == channel]


@TRANSPORTS
async def test_a_public_channel_without_the_bot_is_joined_and_answered_in_a_thread(transport):
    async with slack_user(transport) as alice:
        await alice.slash(ASK, channel="C0INCIDENT")  # public; the bot is not a member
        await alice.settled()
        (refused, *_) = _posted(alice.slack, "C0INCIDENT")
        assert refused.error == "not_in_channel"
        assert [c.ok for c in alice.slack.api.calls("conversations.join")] == [True]
        (root,) = roots(alice.slack, "C0INCIDENT")
        assert "PROBLEM" in root.all_text
        assert len(texts(alice.slack.api.thread("C0INCIDENT", root.ts))) == 3
        assert not alice.slack.api.state.response_urls[_url_id(alice)].posts


def _url_id(alice) -> str:
    (rid,) = alice.slack.api.state.response_urls
    return rid


@TRANSPORTS
async def test_a_private_channel_without_the_bot_is_answered_through_the_response_url(transport):
    async with slack_user(transport) as alice:
        _private(alice.slack)
        assert await alice.slash(ASK, channel=PRIVATE) == {}
        await alice.settled()
        assert [c.error for c in _posted(alice.slack, PRIVATE)] == ["channel_not_found"]
        assert [c.ok for c in alice.slack.api.calls("conversations.join")] == [False]
        answer = [m for m in alice.slack.api.messages(PRIVATE) if m.bot_id]
        assert [m.source for m in answer] == ["response_url"] * 3  # root, problems, passed
        root, problems, passed = answer
        assert "PROBLEM" in root.all_text and "*Fix first:*" in root.all_text
        assert "/invite <@U0MESHBOT>" in root.all_text  # how to get threaded answers here
        assert "create-remote-secret --context=cluster2" in problems.all_text
        assert "1. Clusters of the mesh" in passed.all_text
        (progress,) = alice.slack.api.ephemerals(PRIVATE, "U0ALICE")
        assert "Diagnosing" in progress.text and progress.source == "response_url"
        posts = alice.slack.api.state.response_urls[_url_id(alice)].posts
        assert len(posts) == 4 <= 5  # within the response_url's five uses
        assert not [c for c in alice.slack.api.calls("_response") if not c.ok]


@TRANSPORTS
async def test_without_channels_join_a_public_channel_is_answered_through_the_response_url(
        transport):
    async with slack_user(transport, scopes=set(DEFAULT_SCOPES) - {"channels:join"}) as alice:
        await alice.slash("trust", channel="C0INCIDENT")
        await alice.settled()
        assert [c.error for c in alice.slack.api.calls("conversations.join")] == ["missing_scope"]
        answer = [m for m in alice.slack.api.messages("C0INCIDENT") if m.bot_id]
        assert len(answer) == 2 and "HEALTHY" in answer[0].all_text  # root, passed steps
        assert all(m.source == "response_url" for m in answer)


@TRANSPORTS
async def test_a_refusal_in_a_channel_without_the_bot_reaches_the_asker(transport):
    config = Config(permissions=Permissions(channels={PRIVATE: ["help"]}))
    async with slack_user(transport, config=config) as alice:
        _private(alice.slack)
        await alice.slash("trust", channel=PRIVATE)
        await alice.settled()
        assert [c.error for c in _posted(alice.slack, PRIVATE, "chat.postEphemeral")] == [
            "channel_not_found"]
        (notice,) = alice.slack.api.ephemerals(PRIVATE, "U0ALICE")
        assert "not enabled in this channel" in notice.text and notice.source == "response_url"
        assert not [m for m in alice.slack.api.messages(PRIVATE) if m.bot_id]


@TRANSPORTS
async def test_with_no_way_into_the_channel_the_asker_hears_it_directly(transport):
    async with slack_user(transport) as alice:
        _private(alice.slack)
        alice.slack.api.fail("_response", "expired_url", status=404, times=None)
        await alice.slash("trust", channel=PRIVATE)
        await alice.settled()
        assert not [m for m in alice.slack.api.messages(PRIVATE) if m.bot_id]
        (dm,) = _direct_messages(alice.slack, "U0ALICE")
        assert "/invite <@U0MESHBOT>" in dm.all_text and f"<#{PRIVATE}>" in dm.all_text


def _direct_messages(slack, user: str) -> list:
    dm = next(c for c in slack.state.channels.values() if c.is_im and user in c.members)
    return [m for m in slack.api.messages(dm.id) if m.bot_id]


@TRANSPORTS
async def test_buttons_in_an_answer_given_through_the_response_url_still_work(transport):
    async with slack_user(transport) as alice:
        _private(alice.slack)
        await alice.slash("trust", channel=PRIVATE)
        await alice.settled()
        root = next(m for m in alice.slack.api.messages(PRIVATE) if m.bot_id)
        await alice.click(root.ts, DETAILS_ACTION, channel=PRIVATE)
        await alice.settled()
        (view,) = alice.slack.api.state.views.values()
        assert "Root of trust across clusters" in all_text(view.view["blocks"])
        await alice.click(root.ts, RERUN_ACTION, channel=PRIVATE)
        await alice.settled()
        answers = [m for m in alice.slack.api.messages(PRIVATE) if m.bot_id]
        assert len(answers) == 4 and "HEALTHY" in answers[2].all_text  # the re-run's two


@TRANSPORTS
async def test_ping_proves_meshbot_reads_every_cluster_and_posts_in_one_message(transport):
    async with slack_user(transport) as alice:
        root = await alice.answered("ping")
        assert "*pong*" in root.all_text and root.edits
        assert "*cluster1*: 4 namespaces listed (default, istio-system, kube-system, " \
            "sample) in " in root.all_text
        assert "*cluster2*: 4 namespaces listed" in root.all_text
        assert alice.slack.api.thread("C0GENERAL", root.ts) == [root]
        await alice.mention("ping")
        await alice.settled()
        mention = next(m for m in alice.slack.api.messages("C0GENERAL") if not m.bot_id)
        (_, pong) = alice.slack.api.thread("C0GENERAL", mention.ts)
        assert "*pong*" in pong.all_text
        assert alice.bot.metrics.cache.labels("hit")._value.get() == 0  # always a fresh read
