"""The bot in HTTP mode: signed requests in, Slack Web API calls out, through the real AsyncApp.

Command logic is exercised as text in and messages out, against the fake Slack; the diagnosis
runs on the demo mesh snapshot.
"""

from __future__ import annotations

import pytest

from bot.blocks import DETAILS_ACTION, RERUN_ACTION
from diagnostics.config import Config, Permissions
from tests.bot_support import ASK, fast_slack, finished, roots, running_bot, url
from tests.slackfake.state import all_text


async def answered(slack, channel: str = "C0GENERAL", count: int = 1):
    """Wait for `count` finished root messages with their threads; return the roots."""
    def done():
        rs = [m for m in roots(slack, channel) if finished(m)]
        return rs if len(rs) >= count and all(len(slack.api.thread(channel, m.ts)) > 5
                                              for m in rs) else None
    return await slack.api.wait_for(done, timeout=20)


async def test_slash_command_answers_with_a_root_and_its_steps_in_the_thread():
    async with fast_slack() as slack, running_bot(slack) as bot:
        resp = await slack.client(url(bot)).slash_command(ASK)
        assert resp.status == 200 and resp.body in ("", b"")
        await answered(slack)
        await bot.responder.drain(20)
        (root,) = roots(slack)
        text = root.all_text
        assert "PROBLEM" in text and "cluster2" in text and "asked by <@U0ALICE>" in text
        assert [e["type"] for e in root.blocks][-1] == "actions"  # Re-run and Details
        assert root.edits, "the root said 'diagnosing' first and was updated in place"
        replies = slack.api.thread("C0GENERAL", root.ts)[1:]
        titles = [all_text(r.blocks).splitlines()[0] for r in replies]
        assert titles[0].endswith("*1. Service helloworld.sample in each cluster*")
        assert [t.split("*")[1].split(".")[0] for t in titles] == [str(i) for i in
                                                                   range(1, len(titles) + 1)]
        fix = next(r for r in replies if "Remote secrets" in r.all_text)
        assert ("istioctl create-remote-secret --context=cluster2 --name=cluster2 | kubectl "
                "apply --context=cluster1 -f -") in fix.all_text
        assert all(len(r.blocks) <= 50 for r in replies)


@pytest.mark.parametrize("how", ["forged", "stale"])
async def test_bad_signatures_get_401_and_nothing_runs(how):
    async with fast_slack() as slack, running_bot(slack) as bot:
        client = slack.client(url(bot))
        kw = {"signature": "v0=" + "0" * 64} if how == "forged" else {"timestamp": 1_000_000}
        resp = await client.slash_command(ASK, **kw)
        assert resp.status == 401
        assert not bot.responder.tasks and not slack.api.calls("chat.postMessage")


async def test_usage_errors_and_help_are_ephemeral_in_the_ack():
    async with fast_slack() as slack, running_bot(slack) as bot:
        client = slack.client(url(bot))
        bad = await client.slash_command("why-local-only Bad_Name")
        assert bad.status == 200 and bad.json()["response_type"] == "ephemeral"
        assert "not a valid service name" in bad.json()["text"]
        unknown = await client.slash_command("frobnicate")
        assert "unknown command `frobnicate`" in unknown.json()["text"]
        help_ = await client.slash_command("help")
        assert "why-local-only <service>" in help_.json()["text"]
        assert not slack.api.calls("chat.postMessage")


async def test_the_word_payload_in_command_text_still_routes_to_the_command():
    """Stock bolt answers 404 to a form body containing 'payload'; meshbot must not."""
    async with fast_slack() as slack, running_bot(slack) as bot:
        resp = await slack.client(url(bot)).slash_command("why-local-only payload-api -n payload")
        assert resp.status == 200
        (root,) = await slack.api.wait_for(lambda: [m for m in roots(slack) if finished(m)] or None,
                                           timeout=10)
        assert "payload-api" in root.all_text and "PROBLEM" in root.all_text


async def test_mention_is_answered_in_the_mentions_thread():
    async with fast_slack() as slack, running_bot(slack) as bot:
        resp = await slack.client(url(bot)).app_mention(f"<@U0MESHBOT> {ASK}")
        assert resp.status == 200
        mention = next(m for m in slack.api.messages("C0GENERAL") if not m.bot_id)

        def threaded():
            t = slack.api.thread("C0GENERAL", mention.ts)
            return t if len(t) > 6 and finished(t[1]) else None
        thread = await slack.api.wait_for(threaded, timeout=20)
        assert "PROBLEM" in thread[1].all_text
        assert not roots(slack), "nothing was posted outside the mention's thread"


async def test_event_retries_never_produce_a_second_answer():
    async with fast_slack() as slack, running_bot(slack) as bot:
        client = slack.client(url(bot))
        first = await client.app_mention(f"<@U0MESHBOT> {ASK}")
        again = await client.retry(first, num=1, reason="http_timeout")
        assert first.status == again.status == 200
        mention = next(m for m in slack.api.messages("C0GENERAL") if not m.bot_id)
        await slack.api.wait_for(lambda: len(slack.api.thread("C0GENERAL", mention.ts)) > 6,
                                 timeout=20)
        await bot.responder.drain(10)
        answers = [m for m in slack.api.thread("C0GENERAL", mention.ts)
                   if m.bot_id and "why-local-only" in m.all_text and "PROBLEM" in m.all_text]
        assert len(answers) == 1
        assert bot.metrics.duplicates.labels("event")._value.get() == 1


async def test_channel_permissions_deny_with_an_ephemeral_notice():
    config = Config(permissions=Permissions(channels={"C0GENERAL": ["help", "trust"]}))
    async with fast_slack() as slack, running_bot(slack, config=config) as bot:
        await slack.client(url(bot)).slash_command(ASK)
        (notice,) = await slack.api.wait_for(lambda: slack.api.ephemerals("C0GENERAL", "U0ALICE"))
        assert "not enabled in this channel" in notice.text and "`trust`" in notice.text
        assert not roots(slack)


async def test_restricted_commands_need_the_user_group():
    config = Config(permissions=Permissions(restricted_commands={"why-local-only": ["S0ONCALL"]}))
    async with fast_slack() as slack, running_bot(slack, config=config) as bot:
        client = slack.client(url(bot))
        await client.slash_command(ASK, user="U0BOB")
        (notice,) = await slack.api.wait_for(lambda: slack.api.ephemerals("C0GENERAL", "U0BOB"))
        assert "restricted to members of <!subteam^S0ONCALL>" in notice.text
        await client.slash_command(ASK, user="U0ALICE")
        await answered(slack)
        await bot.responder.drain(20)
        assert len(slack.api.calls("usergroups.users.list")) == 1  # membership is cached


async def test_per_user_rate_limit():
    async with fast_slack() as slack, running_bot(slack) as bot:
        bot.responder.gate.per_minute = 2
        client = slack.client(url(bot))
        for _ in range(3):
            await client.slash_command("trust")
        (notice,) = await slack.api.wait_for(lambda: slack.api.ephemerals("C0GENERAL", "U0ALICE"),
                                             timeout=10)
        assert "diagnoses in the last minute" in notice.text
        await bot.responder.drain(10)
        assert len(roots(slack)) == 2


async def test_slack_429s_are_retried_after_retry_after_and_nothing_is_lost():
    async with fast_slack() as slack, running_bot(slack) as bot:
        slack.api.rate_limit("chat.postMessage", times=2, retry_after=1)
        await slack.client(url(bot)).slash_command("trust")
        await bot.responder.drain(20)
        (root,) = roots(slack)
        assert len(slack.api.thread("C0GENERAL", root.ts)) == 3  # root + 2 steps
        assert bot.metrics.slack_ratelimited.labels("chat.postMessage")._value.get() == 2


class _BrokenSource:
    """A source whose reads blow up with a bug (not a cluster fault): the diagnosis raises."""

    identity = "broken"

    def cluster_infos(self):
        from diagnostics.model import ClusterInfo
        return [ClusterInfo("cluster1")]

    async def list(self, *args, **kwargs):
        raise RuntimeError("boom in the source")

    def istiod_targets(self, cluster, pods):
        return []

    async def istiod_get(self, *args):
        raise RuntimeError("boom")

    async def pod_log(self, *args):
        raise RuntimeError("boom")

    async def close(self):
        return None


async def test_a_diagnosis_that_raises_still_answers_saying_what_failed():
    async with fast_slack() as slack, running_bot(slack, source=_BrokenSource()) as bot:
        await slack.client(url(bot)).slash_command("trust")
        await bot.responder.drain(10)
        (root,) = roots(slack)
        assert "could not finish" in root.all_text and "RuntimeError" in root.all_text
        (_, reply) = slack.api.thread("C0GENERAL", root.ts)
        assert "What failed: RuntimeError: boom in the source" in reply.all_text


async def test_buttons_rerun_fresh_and_details_upload_the_report():
    async with fast_slack() as slack, running_bot(slack) as bot:
        client = slack.client(url(bot))
        await client.slash_command("trust")
        await bot.responder.drain(10)
        (root,) = roots(slack)
        await client.slash_command("trust")  # identical ask within the TTL: cached
        await bot.responder.drain(10)
        cached = roots(slack)[1]
        assert "Re-run for fresh" in cached.all_text
        await client.click(channel="C0GENERAL", message_ts=cached.ts, action_id=RERUN_ACTION)
        await bot.responder.drain(10)
        rerun = roots(slack)[2]
        assert "Re-run for fresh" not in rerun.all_text and "HEALTHY" in rerun.all_text
        assert bot.metrics.cache.labels("hit")._value.get() == 1
        await client.click(channel="C0GENERAL", message_ts=root.ts, action_id=DETAILS_ACTION)
        await bot.responder.drain(10)
        names = sorted(f.filename for f in slack.api.files())
        assert names == ["meshbot-report.json", "meshbot-report.txt"]
        assert all(f.thread_ts == root.ts for f in slack.api.files())


async def test_health_readiness_and_metrics_endpoints():
    import aiohttp
    async with fast_slack() as slack, running_bot(slack) as bot:
        await slack.client(url(bot)).slash_command("trust")
        await bot.responder.drain(10)
        async with aiohttp.ClientSession() as http:
            async with http.get(url(bot) + "/healthz") as r:
                assert r.status == 200
            await slack.api.wait_for(lambda: bot._authenticated)
            async with http.get(url(bot) + "/readyz") as r:
                assert r.status == 200 and (await r.json())["status"] == "ready"
            async with http.get(url(bot) + "/metrics") as r:
                text = await r.text()
        assert 'meshbot_commands_total{command="trust",trigger="slash",verdict="healthy"} 1.0' in text
        assert "meshbot_diagnosis_duration_seconds_bucket" in text
