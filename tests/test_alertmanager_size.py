"""Large alert groups through POST /alertmanager of the real bot: read in full up to the
documented bound, answered with a summary above it, never refused (Alertmanager does not retry
a 4xx, so a refusal loses the notification)."""

from __future__ import annotations

import io
import json

import aiohttp

from bot.alerts import FULL_BODY, MIB
from tests.bot_support import fast_slack, running_bot, url
from tests.test_incidents import CONFIG, TOKEN, incident_roots, settle


def alertmanager_body(alerts: int, *, resolved: int = 0) -> bytes:
    """A webhook body as Alertmanager 0.34 writes it (Go's json.Encoder: field order of
    notify/webhook, no spaces, a final newline; reference/slack-contract.md §9.1), for a group
    of `alerts` pod alerts of one service, `resolved` of them resolved."""
    common = {"alertname": "KubePodNotReady", "namespace": "sample", "severity": "critical",
              "service": "helloworld", "cluster": "cluster1"}
    items = []
    for i in range(alerts):
        status = "resolved" if i < resolved else "firing"
        items.append({
            "status": status,
            "labels": {**common, "pod": f"helloworld-v1-7d9f6c5b4-{i:05d}",
                       "container": "helloworld", "instance": f"10.1.{i // 250}.{i % 250}:8080",
                       "job": "kube-state-metrics", "uid": f"{i:08x}-5d2c-4e8b-9a1f-3c6b2e7d9f0a"},
            "annotations": {"summary": f"Pod sample/helloworld-v1-7d9f6c5b4-{i:05d} has been in "
                                       "a non-ready state for longer than 15 minutes.",
                            "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/"
                                           "kubernetes/kubepodnotready"},
            "startsAt": "2026-11-21T09:14:07.123456789Z",
            "endsAt": "2026-11-21T09:31:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus-k8s-0:9090/graph?g0.expr=sum+by+%28namespace%2C+"
                            "pod%2C+cluster%29+%28max+by%28namespace%2C+pod%2C+cluster%29+%28kube_"
                            "pod_status_phase%7Bjob%3D%22kube-state-metrics%22%7D%29%29+%3E+0",
            "fingerprint": f"{i:016x}"})
    body = {"receiver": "meshbot", "status": "firing", "alerts": items,
            "notification_reason": "first notification",
            "groupLabels": {"alertname": "KubePodNotReady"}, "commonLabels": common,
            "commonAnnotations": {}, "routeLabels": {"severity": "critical"},
            "externalURL": "http://alertmanager:9093", "version": "4",
            "groupKey": '{}/{severity="critical"}:{alertname="KubePodNotReady"}',
            "truncatedAlerts": 0}
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


async def _post(bot, body: bytes) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.34.0",
               "Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url(bot) + "/alertmanager", data=io.BytesIO(body),
                             headers=headers) as r:
            return r.status, await r.json()


async def test_a_group_of_10000_alerts_is_read_in_full():
    body = alertmanager_body(10_000, resolved=1_000)
    assert 5 * MIB < len(body) < FULL_BODY  # what Alertmanager sends for such a group
    async with fast_slack() as slack, running_bot(slack, config=CONFIG, alert_token=TOKEN) as bot:
        status, answer = await _post(bot, body)
        assert status == 200 and answer == {"status": "accepted", "alerts": 10_000}
        await settle(bot)
        (root,) = incident_roots(slack)
        assert "FIRING" in root.all_text and "(9000 alerts" in root.all_text
        assert "not listed" not in root.all_text and "too" not in root.all_text


async def test_a_group_too_large_to_read_in_full_is_answered_with_a_summary():
    body = alertmanager_body(24_000, resolved=4_000)
    assert len(body) > FULL_BODY
    async with fast_slack() as slack, running_bot(slack, config=CONFIG, alert_token=TOKEN) as bot:
        status, answer = await _post(bot, body)
        assert status == 200, answer
        assert answer["summarized"] is True and answer["counted"] == 24_000
        await settle(bot)
        (root,) = incident_roots(slack)
        text = root.all_text
        assert "FIRING" in text and "KubePodNotReady" in text and "(20000 alerts" in text
        assert "20000 firing and 4000 resolved alerts" in text and "group's labels" in text
        thread = slack.api.thread("C0INCIDENT", root.ts)
        assert any("/mesh why-local-only helloworld -n sample" in m.all_text for m in thread), \
            "the runbooks still follow the group's common labels"


def test_the_bounds_are_the_ones_the_readme_documents():
    from pathlib import Path

    from bot.alerts import MAX_ALERTS, MAX_BODY

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert f"up to {FULL_BODY // MIB} MiB" in readme and f"first {MAX_ALERTS:,} alerts" in readme
    assert f"up to {MAX_BODY // MIB} MiB, is read as a stream" in readme
