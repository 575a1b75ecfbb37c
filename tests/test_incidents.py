"""Incident channels: Alertmanager notifications through the real HTTP endpoint of the bot, and
new incident channels, against the fake Slack."""

from __future__ import annotations

import copy
import json
import re

import aiohttp
import pytest

from bot.alert_routing import commands_for
from bot.alerts import AlertPayloadError, parse_notification
from diagnostics.config import AlertRoute, Config, Incidents
from tests.bot_support import fast_slack, running_bot, url
from tests.slackfake.payloads import channel_created_event

TOKEN = "am-token-123"
CONFIG = Config(incidents=Incidents(
    alertmanager_routes=[AlertRoute(match={"severity": "critical"}, channel="C0INCIDENT")],
    channel_name_patterns=["inc-*", "incident-*"]))

FIRING = {
    "receiver": "meshbot", "status": "firing",
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "HelloworldOnlyLocal", "service": "helloworld",
                   "namespace": "sample", "cluster": "cluster1", "severity": "critical"},
        "annotations": {"summary": "helloworld in cluster1 only reaches local endpoints"},
        "startsAt": "2026-11-21T09:14:07.123Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph", "fingerprint": "4a1f0e2d9c3b7a65"}],
    "notification_reason": "first notification",
    "groupLabels": {"alertname": "HelloworldOnlyLocal"},
    "commonLabels": {"alertname": "HelloworldOnlyLocal", "service": "helloworld",
                     "namespace": "sample", "cluster": "cluster1", "severity": "critical"},
    "commonAnnotations": {"summary": "helloworld in cluster1 only reaches local endpoints"},
    "routeLabels": {}, "externalURL": "http://alertmanager:9093", "version": "4",
    "groupKey": '{}/{severity="critical"}:{alertname="HelloworldOnlyLocal"}', "truncatedAlerts": 0,
}


def resolved(payload: dict) -> dict:
    out = copy.deepcopy(payload)
    out["status"] = "resolved"
    out["notification_reason"] = "all alerts resolved"
    for alert in out["alerts"]:
        alert["status"], alert["endsAt"] = "resolved", "2026-11-21T09:31:00Z"
    return out


def older_version(payload: dict) -> dict:
    """Alertmanager 0.28-0.31: no notification_reason, no routeLabels."""
    out = copy.deepcopy(payload)
    out.pop("notification_reason")
    out.pop("routeLabels")
    return out


async def post(bot, payload, token: str | None = TOKEN, raw: bytes | None = None):
    headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.34.0"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http:
        body = raw if raw is not None else json.dumps(payload).encode()
        async with http.post(url(bot) + "/alertmanager", data=body, headers=headers) as r:
            return r.status, await r.json()


async def settle(bot) -> None:
    await bot.responder.drain(30)


def incident_roots(slack):
    return [m for m in slack.api.messages("C0INCIDENT") if m.bot_id and not m.is_reply]


@pytest.fixture
async def slack_and_bot():
    async with fast_slack() as slack, running_bot(slack, config=CONFIG,
                                                  alert_token=TOKEN) as bot:
        bot.incidents.duplicate_window = 0  # every post here is a later repeat, not an HA twin
        yield slack, bot


async def test_token_and_body_are_checked_and_never_answered_429(slack_and_bot):
    slack, bot = slack_and_bot
    assert (await post(bot, FIRING, token=None))[0] == 401
    assert (await post(bot, FIRING, token="wrong"))[0] == 401
    status, body = await post(bot, None, raw=b"{not json")
    assert status == 400 and "not JSON" in body["error"]
    assert (await post(bot, None, raw=b'{"alerts": "x"}'))[0] == 400
    await settle(bot)
    assert not slack.api.calls("chat.postMessage")


async def test_a_firing_alert_posts_a_threaded_diagnosis_in_the_routed_channel(slack_and_bot):
    slack, bot = slack_and_bot
    status, body = await post(bot, FIRING)
    assert status == 200 and body == {"status": "accepted", "alerts": 1}
    await settle(bot)
    (root,) = incident_roots(slack)
    text = root.all_text
    assert "FIRING" in text and "HelloworldOnlyLocal" in text and "PROBLEM" in text
    assert "Triggered by Alertmanager (meshbot)" in text
    assert root.blocks[-1]["elements"][0]["action_id"] == "mesh_rerun"
    thread = slack.api.thread("C0INCIDENT", root.ts)
    answers = [m for m in thread[1:] if "/mesh " in m.all_text and m.blocks[-1]["type"] == "actions"]
    commands = [m.all_text.split("`/mesh ")[1].split("`")[0] for m in answers]
    assert commands[0] == "why-local-only helloworld -n sample"
    assert any(c.startswith("check svc/helloworld -n sample") for c in commands)
    assert any("create-remote-secret --context=cluster2" in m.all_text for m in thread)
    assert slack.api.calls("conversations.join"), "the bot joined the incident channel to post"


async def test_repeat_updates_the_thread_and_resolution_closes_it(slack_and_bot):
    slack, bot = slack_and_bot
    await post(bot, FIRING)
    await settle(bot)
    (root,) = incident_roots(slack)
    replies = len(slack.api.thread("C0INCIDENT", root.ts))
    await post(bot, FIRING)  # Alertmanager's repeat after group_interval: same content
    await settle(bot)
    assert len(incident_roots(slack)) == 1
    assert len(slack.api.thread("C0INCIDENT", root.ts)) == replies  # nothing new posted
    assert "notified 2 times" in slack.api.messages("C0INCIDENT")[0].all_text
    await post(bot, resolved(FIRING))
    await settle(bot)
    root = incident_roots(slack)[0]
    assert "RESOLVED" in root.all_text
    assert "Resolved at" in slack.api.thread("C0INCIDENT", root.ts)[-1].all_text


async def test_new_alerts_in_the_group_recheck_in_the_same_thread(slack_and_bot):
    slack, bot = slack_and_bot
    await post(bot, FIRING)
    await settle(bot)
    grown = copy.deepcopy(FIRING)
    extra = copy.deepcopy(grown["alerts"][0])
    extra["fingerprint"], extra["labels"]["cluster"] = "0123456789abcdef", "cluster2"
    grown["alerts"].append(extra)
    grown["notification_reason"] = "new alerts added"
    assert (await post(bot, grown))[0] == 200
    await settle(bot)
    (root,) = incident_roots(slack)
    thread = slack.api.thread("C0INCIDENT", root.ts)
    assert any("1 new alert(s) in this group" in m.all_text for m in thread)
    assert "2 alerts" in root.all_text


async def test_flapping_reuses_the_thread_and_goes_quiet(slack_and_bot):
    slack, bot = slack_and_bot
    await post(bot, FIRING)
    await settle(bot)
    for _ in range(5):
        await post(bot, resolved(FIRING))
        await settle(bot)
        await post(bot, FIRING)
        await settle(bot)
    (root,) = incident_roots(slack)
    thread = slack.api.thread("C0INCIDENT", root.ts)
    assert sum("Firing again" in m.all_text for m in thread) == 3  # then quiet
    assert "flapped 5 times" in root.all_text and "FIRING" in root.all_text


async def test_older_alertmanager_payloads_and_unrouted_groups(slack_and_bot):
    slack, bot = slack_and_bot
    warning = older_version(FIRING)
    for alert in warning["alerts"]:
        alert["labels"]["severity"] = "warning"
    warning["commonLabels"]["severity"] = "warning"
    assert (await post(bot, warning))[0] == 200  # parsed, accepted, but routed nowhere
    await settle(bot)
    assert not incident_roots(slack)
    assert bot.metrics.alertmanager.labels("firing", "unrouted")._value.get() == 1
    assert (await post(bot, older_version(FIRING)))[0] == 200
    await settle(bot)
    assert len(incident_roots(slack)) == 1


async def test_two_replicas_sharing_redis_post_once(redis_server):
    async with fast_slack() as slack, \
            running_bot(slack, config=CONFIG, alert_token=TOKEN, redis_url=redis_server.url) as a, \
            running_bot(slack, config=CONFIG, alert_token=TOKEN, redis_url=redis_server.url) as b:
        # Two Alertmanager peers deliver the same notification to different replicas.
        assert (await post(a, FIRING))[0] == 200
        assert (await post(b, FIRING))[0] == 200
        await settle(a)
        await settle(b)
        assert len(incident_roots(slack)) == 1


async def test_new_incident_channel_gets_a_mesh_health_snapshot():
    async with fast_slack() as slack, running_bot(slack, config=CONFIG) as bot:
        slack.state.add_channel("C0NEWINC", "inc-777")
        slack.state.add_channel("C0RANDOM", "random-talk")
        client = slack.client(url(bot))
        for cid, name in (("C0NEWINC", "inc-777"), ("C0RANDOM", "random-talk")):
            await client.event(channel_created_event(channel_id=cid, name=name, creator="U0ALICE",
                                                     team="T0MESH"))
        await settle(bot)
        (root,) = [m for m in slack.api.messages("C0NEWINC") if m.bot_id]
        assert "new incident channel #inc-777" in root.all_text and "PROBLEM" in root.all_text
        assert root.blocks[-1]["elements"][0]["action_id"] == "mesh_rerun"
        (summary,) = slack.api.thread("C0NEWINC", root.ts)[1:]
        assert "remote-secret-missing" in summary.all_text
        assert not slack.api.messages("C0RANDOM")


def test_payload_parsing_is_lenient_but_says_what_is_wrong():
    n = parse_notification(json.dumps(older_version(FIRING)))
    assert n.reason == "" and n.status == "firing" and n.firing[0].fingerprint == "4a1f0e2d9c3b7a65"
    minimal = parse_notification('{"alerts": [{"labels": {"alertname": "X"}}]}')
    assert minimal.status == "firing" and minimal.group_key and minimal.alerts[0].fingerprint
    for bad, why in ((b"[]", "JSON object"), (b'{"alerts": [1]}', "alerts[0] must be"),
                     (b'{"alerts": [{"status": "weird"}]}', "firing or resolved")):
        with pytest.raises(AlertPayloadError, match=re.escape(why)):
            parse_notification(bad)


@pytest.mark.parametrize("labels, expected", [
    ({"alertname": "IstiodDown", "app": "istiod", "cluster": "cluster2"},
     ["control-plane --cluster cluster2", "remote-clusters", "proxy-status"]),
    ({"alertname": "PilotXdsPushErrors"}, ["control-plane", "remote-clusters", "proxy-status"]),
    ({"alertname": "PodCrashLooping", "pod": "payload-api-7d9f", "namespace": "shop"},
     ["check pod/payload-api-7d9f -n shop"]),
    ({"alertname": "HighErrorRate", "destination_service": "reviews.bookinfo.svc.cluster.local"},
     ["why-local-only reviews -n bookinfo", "check svc/reviews -n bookinfo"]),
    ({"alertname": "Weird", "service": "Not_A_Name"}, ["digest"]),
    ({"alertname": "SomethingElse"}, ["digest"]),
    # label values are data: never options, never names that are not names
    ({"pod": "web-1 --cluster cluster2", "namespace": "shop"}, ["digest"]),
    ({"pod": "web-1", "namespace": "shop --cluster cluster2"}, ["digest"]),
    ({"pod": "web-1", "namespace": "shop", "cluster": "cluster1 --from x"},
     ["check pod/web-1 -n shop"]),
    ({"service": "reviews --from sleep-1", "namespace": "bookinfo"}, ["digest"]),
    ({"destination_service": "reviews.bookinfo --cluster cluster2.svc"}, ["digest"]),
    ({"pod": "payload-api\n", "namespace": "shop"}, ["digest"]),
    ({"service": "reviews", "namespace": "Not_A_Ns", "kubernetes_namespace": "bookinfo"},
     ["why-local-only reviews -n bookinfo", "check svc/reviews -n bookinfo"]),
])
def test_runbooks_follow_the_alert_labels(labels, expected):
    assert commands_for(labels, ["cluster1", "cluster2"]) == expected
