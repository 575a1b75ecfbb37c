"""The bot's behaviour through the real AsyncApp, over HTTP and over Socket Mode alike.

Command logic is exercised as text in and messages out, against the fake Slack; the diagnosis
runs on the demo mesh snapshot (or, where latency matters, through meshbot replay).
"""

from __future__ import annotations

import re

import pytest

from bot.blocks import DETAILS_ACTION, RERUN_ACTION
from diagnostics.config import Config, Permissions, parse_config
from diagnostics.model import ClusterInfo
from diagnostics.render.text import render_text
from handlers.commands import parse
from tests.bot_support import ASK, finished, roots, slack_user, texts
from tests.meshgen.render import write_snapshot
from tests.meshgen.scale import crowded_namespace
from tests.slackfake.state import all_text

TRANSPORTS = pytest.mark.parametrize("transport", ["http", "socket"])
CROWD = 70  # uninjected workloads in one namespace: more than a message holds


def _numbered(text: str) -> dict[int, str]:
    """`N. Title` at the start of a step's line (after its mark), Slack or terminal."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\S+ \*?(\d+)\. ([^*—(]+?)\*?(?: — | \(|$)", line)
        if m:
            out[int(m.group(1))] = m.group(2).strip()
    return out


@TRANSPORTS
async def test_a_problem_answer_is_three_messages_with_steps_numbered_as_in_the_terminal(
        transport):
    async with slack_user(transport) as alice:
        assert await alice.slash(ASK) == {}  # an empty ack: the thread follows
        await alice.settled()
        (root,) = roots(alice.slack)
        assert "PROBLEM" in root.all_text and "asked by <@U0ALICE>" in root.all_text
        assert "no `istio/multiCluster=true` secret for cluster2" in root.all_text  # the cause
        assert "*Fix first:* Generate the secret from cluster2" in root.all_text
        assert root.blocks[-1]["type"] == "actions"  # Re-run and Details
        assert root.edits, "the root said 'diagnosing' first and was updated in place"
        problems, passed, picture = alice.slack.api.thread("C0GENERAL", root.ts)[1:]
        # the text is three messages; the topology picture follows them (a broken link)
        assert picture.source == "file_share" and len(picture.files) == 1
        assert ("istioctl create-remote-secret --context=cluster2 --name=cluster2 | kubectl "
                "apply --context=cluster1 -f -") in problems.all_text
        assert "*Why it works:*" in problems.all_text
        slack_steps = {**_numbered(all_text(problems.blocks)), **_numbered(passed.all_text)}
        assert set(_numbered(all_text(problems.blocks))) == {5, 9}
        report = await alice.bot.responder.answerer.answer(parse(ASK, terminal=False))
        terminal = _numbered(render_text(report, verbose=True))
        assert slack_steps == terminal and len(terminal) == 14
        assert all(len(m.blocks) <= 50 for m in (root, problems, passed))


@TRANSPORTS
async def test_usage_errors_unknown_commands_and_help_are_ephemeral(transport):
    async with slack_user(transport) as alice:
        bad = await alice.slash("why-local-only Bad_Name")
        assert bad["response_type"] == "ephemeral" and "not a valid service name" in bad["text"]
        assert "unknown command `frobnicate`" in (await alice.slash("frobnicate"))["text"]
        help_ = await alice.slash("help")
        assert "why-local-only <service>" in help_["text"] and "trust" in help_["text"]
        await alice.settled()
        assert not alice.slack.api.calls("chat.postMessage")


@TRANSPORTS
async def test_the_word_payload_is_just_a_word(transport):
    async with slack_user(transport) as alice:
        await alice.slash("why-local-only payload-api -n payload")
        await alice.settled()
        (root,) = roots(alice.slack)
        assert "payload-api" in root.all_text and "PROBLEM" in root.all_text


@TRANSPORTS
async def test_mention_is_answered_in_the_mentions_thread(transport):
    async with slack_user(transport) as alice:
        await alice.mention(ASK)
        await alice.settled()
        mention = next(m for m in alice.slack.api.messages("C0GENERAL") if not m.bot_id)
        thread = alice.slack.api.thread("C0GENERAL", mention.ts)
        assert finished(thread[1]) and "PROBLEM" in thread[1].all_text and len(texts(thread)) == 4
        assert not roots(alice.slack), "nothing was posted outside the mention's thread"


@TRANSPORTS
async def test_redelivered_events_never_produce_a_second_answer(transport):
    async with slack_user(transport) as alice:
        delivered = await alice.mention(ASK)
        await alice.redeliver(delivered)
        await alice.deliver_again_as_new_event(delivered)
        await alice.settled()
        mention = next(m for m in alice.slack.api.messages("C0GENERAL") if not m.bot_id)
        answers = [m for m in alice.slack.api.thread("C0GENERAL", mention.ts)
                   if m.bot_id and "PROBLEM" in m.all_text]
        assert len(answers) == 1
        duplicates = alice.bot.metrics.duplicates
        assert duplicates.labels("event")._value.get() == 1  # the redelivery
        assert duplicates.labels("message")._value.get() == 2  # ... and the new event id


@TRANSPORTS
async def test_channel_permissions_deny_with_an_ephemeral_notice(transport):
    config = Config(permissions=Permissions(channels={"C0GENERAL": ["help", "trust"]}))
    async with slack_user(transport, config=config) as alice:
        await alice.slash(ASK)
        await alice.settled()
        (notice,) = alice.slack.api.ephemerals("C0GENERAL", "U0ALICE")
        assert "not enabled in this channel" in notice.text and "`trust`" in notice.text
        assert not roots(alice.slack)


@TRANSPORTS
async def test_restricted_commands_need_the_user_group(transport):
    config = Config(permissions=Permissions(restricted_commands={"trust": ["S0ONCALL"]}))
    async with slack_user(transport, config=config) as someone:
        await someone.slash("trust", user="U0BOB")
        await someone.settled()
        (notice,) = someone.slack.api.ephemerals("C0GENERAL", "U0BOB")
        assert "restricted to members of <!subteam^S0ONCALL>" in notice.text
        await someone.slash("trust", user="U0ALICE")
        await someone.slash("trust", user="U0ALICE")
        await someone.settled()
        assert len(roots(someone.slack)) == 2
        assert len(someone.slack.api.calls("usergroups.users.list")) == 1  # cached


@TRANSPORTS
async def test_per_user_rate_limit(transport):
    config = parse_config({"permissions": {"diagnoses_per_user_per_minute": 2}})
    async with slack_user(transport, config=config) as alice:
        # counted per clock minute: a clock standing still mid-minute keeps the three in one
        alice.bot.responder.gate.clock = lambda: 1_800_000_030.0
        for _ in range(3):
            await alice.slash("trust")
        await alice.settled()
        (notice,) = alice.slack.api.ephemerals("C0GENERAL", "U0ALICE")
        assert "diagnoses in the last minute" in notice.text
        assert len(roots(alice.slack)) == 2


@TRANSPORTS
async def test_slack_429s_are_retried_after_retry_after_and_nothing_is_lost(transport):
    async with slack_user(transport) as alice:
        alice.slack.api.rate_limit("chat.postMessage", times=2, retry_after=1)
        await alice.slash("trust")
        await alice.settled()
        (root,) = roots(alice.slack)
        assert len(alice.slack.api.thread("C0GENERAL", root.ts)) == 2  # root + passed steps
        assert alice.bot.metrics.slack_ratelimited.labels("chat.postMessage")._value.get() == 2


class BrokenSource:
    """A source whose reads fail with a bug (not a cluster fault), so the diagnosis raises."""

    identity = "broken"

    def cluster_infos(self):
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


@TRANSPORTS
async def test_a_diagnosis_that_raises_still_answers_saying_what_failed(transport):
    async with slack_user(transport, source=BrokenSource()) as alice:
        await alice.slash("trust")
        await alice.settled()
        (root,) = roots(alice.slack)
        assert "could not finish" in root.all_text and "RuntimeError" in root.all_text
        (_, reply) = alice.slack.api.thread("C0GENERAL", root.ts)
        assert "What failed: RuntimeError: boom in the source" in reply.all_text


@TRANSPORTS
async def test_cached_answers_say_so_rerun_is_fresh_and_details_opens_the_evidence(transport):
    async with slack_user(transport) as alice:
        await alice.slash("trust")
        await alice.settled()
        await alice.slash("trust")  # identical ask within the TTL, once the first is answered
        await alice.settled()
        first, cached = roots(alice.slack)
        assert "Re-run for fresh" not in first.all_text and "Re-run for fresh" in cached.all_text
        await alice.click(cached.ts, RERUN_ACTION)
        await alice.settled()
        rerun = roots(alice.slack)[2]
        assert "Re-run for fresh" not in rerun.all_text and "HEALTHY" in rerun.all_text
        assert alice.bot.metrics.cache.labels("hit")._value.get() == 1
        await alice.click(first.ts, DETAILS_ACTION)
        await alice.settled()
        (view,) = alice.slack.api.state.views.values()
        assert view.updates == 1, "a loading view first, then the evidence"
        shown = all_text(view.view["blocks"])
        assert "*2. Root of trust across clusters*" in shown and "cluster1: CN=" in shown
        assert not alice.slack.api.files(), "the whole evidence fits: no file"
        assert len(alice.slack.api.thread("C0GENERAL", first.ts)) == 2, "nothing posted"


@TRANSPORTS
async def test_details_without_a_modal_upload_the_report_to_the_thread(transport):
    async with slack_user(transport) as alice:
        root = await alice.answered("trust")
        alice.slack.api.fail("views.open", "expired_trigger_id")
        await alice.click(root.ts, DETAILS_ACTION)
        await alice.settled()
        files = alice.slack.api.files()
        assert sorted(f.filename for f in files) == ["meshbot-details.txt", "meshbot-report.json"]
        assert all(f.thread_ts == root.ts for f in files)
        assert "cluster1: CN=" in next(f.text for f in files if f.filename.endswith(".txt"))


@TRANSPORTS
async def test_metrics_count_what_happened(transport):
    import aiohttp
    async with slack_user(transport) as alice:
        await alice.slash("trust")
        await alice.settled()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{alice.bot.port}/metrics") as r:
                text = await r.text()
        assert ('meshbot_commands_total{command="trust",trigger="slash",verdict="healthy"} 1.0'
                in text)
        assert "meshbot_diagnosis_duration_seconds_bucket" in text


@pytest.fixture(scope="module")
def crowded_snapshot(tmp_path_factory):
    out = tmp_path_factory.mktemp("crowd")
    write_snapshot(crowded_namespace(CROWD), out)
    return out


@TRANSPORTS
async def test_an_answer_larger_than_a_message_spills_into_files(transport, crowded_snapshot):
    async with slack_user(transport, snapshot=crowded_snapshot) as alice:
        await alice.slash("check ns/crowd")
        await alice.settled()
        assert not [c for c in alice.slack.api.calls() if not c.ok], "Slack refused nothing"
        (root,) = roots(alice.slack)
        assert f"{CROWD - 1} more problems" in root.all_text
        replies = alice.slack.api.thread("C0GENERAL", root.ts)[1:]
        assert all(len(r.blocks or ()) <= 50 for r in replies)
        injection = next(r for r in replies if "Sidecar injection" in r.all_text)
        attached = [f for f in alice.slack.api.files() if f.thread_ts == root.ts]
        assert {f.filename for f in attached} >= {"step-2-evidence.txt",
                                                  "step-2-sidecar-not-injected.txt"}
        shown = injection.all_text + "".join(f.text for f in attached)
        missing = [i for i in range(CROWD) if f"crowd-{i:02d}-" not in shown]
        assert not missing, f"workloads neither in the thread nor in its files: {missing}"


@TRANSPORTS
async def test_a_valid_command_of_nearly_3000_characters_is_answered(transport):
    """The progress message once quoted the whole command and broke Block Kit's 3000-character
    section limit, so the command was dropped without a word."""
    text = "why-local-only helloworld -n sample" + " --cluster cluster1 --cluster cluster2" * 80
    assert len(text) > 2950
    async with slack_user(transport) as alice:
        assert await alice.slash(text) == {}
        await alice.settled()
        assert not [c for c in alice.slack.api.calls() if not c.ok], "Slack refused nothing"
        (root,) = roots(alice.slack)
        assert "PROBLEM" in root.all_text and root.edits
        assert "--cluster cluster2 --cluster clu" in root.all_text and "…" in root.all_text
        assert len(texts(alice.slack.api.thread("C0GENERAL", root.ts))) == 3  # root, 2 replies


@TRANSPORTS
async def test_details_say_in_the_modal_when_the_diagnosis_fails(transport):
    from bot.blocks import SlackMessage, command_buttons

    async with slack_user(transport, source=BrokenSource()) as alice:
        buttons = [b.to_dict() for b in command_buttons("trust")]
        root = await alice.bot.responder.poster.post("C0GENERAL", SlackMessage("trust", buttons))
        await alice.click(root, DETAILS_ACTION)
        await alice.settled()
        (view,) = alice.slack.api.state.views.values()
        assert "Details unavailable: RuntimeError: boom in the source" in all_text(
            view.view["blocks"])
        assert not alice.slack.api.ephemerals()
