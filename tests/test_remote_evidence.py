"""istiod's evidence about a remote cluster when its sources disagree, fail or come in old shapes.

- clusterz `synced` while the log keeps failing for the cluster and istiod holds no endpoint of
  it (how 1.12-1.15 listed a cluster whose first sync timed out): not healthy; the cause is
  reported and the contradiction named. Run through both sources on a generated scenario whose
  clusterz is rewritten into that older shape (no own-cluster entry, the secret's bare name).
- /metrics' istiod_remote_cluster_sync_status where clusterz is refused, except 1.29's
  `timeout`, which that release reports for every cluster (istio/istio#60082).
- a log line naming only the remote reader identity, attributed when one remote alone is unread.
- syncz without the RFC 3339 push version in its nonces (<= 1.22) or without cluster_id (< 1.13).
"""

from __future__ import annotations

import base64
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from diagnostics.catalog import default_catalog
from diagnostics.checking import CheckContext, REGISTRY
from diagnostics.facts import Fact, PerReplica, Unavailable
from diagnostics.inputs import (CLUSTERZ, ENDPOINT_SHARDZ, ISTIOD_LOGS, ISTIOD_METRICS,
                                ISTIOD_PODS, ISTIO_SECRETS)
from diagnostics.model import ClusterInfo
from diagnostics.parse.istiod_metrics import MetricsError, remote_sync_status
from diagnostics.parse.syncz import parse_syncz
from diagnostics.verdict import ordered_findings
from tests.scenario_support import Scenario, comparable, run_live, run_snapshot, scenarios

BY_NAME = {s.name: s for s in scenarios()}
T = "2026-11-20T08:20:09.000001Z"
SECRET = "istio-remote-secret-cluster2"
READER_FORBIDDEN = (
    "k8s.io/client-go@v0.19.2/tools/cache/reflector.go:156: Failed to watch *v1.Pod: failed to "
    'list *v1.Pod: pods is forbidden: User "system:serviceaccount:istio-system:istio-reader-'
    'service-account" cannot list resource "pods" in API group "" at the cluster scope')


# ------------------------------------------------------- clusterz says synced, nothing else does


def _older_clusterz(scenario: Scenario, tmp_path: Path) -> Scenario:
    """The scenario with cluster1's clusterz as istiod 1.12-1.15 wrote it after the sync
    timeout: no own-cluster entry, the secret by its bare name, and `synced`."""
    copy = tmp_path / scenario.name
    shutil.copytree(scenario.path, copy)
    for path in copy.glob("snapshot/clusters/cluster1/istiod/*/clusterz.json"):
        body = json.loads(path.read_text())
        path.write_text(json.dumps([{"id": e["id"], "secretName": SECRET, "syncStatus": "synced"}
                                    for e in body if e["secretName"]]))
    return Scenario(scenario.name, copy, scenario.expected)


async def test_clusterz_synced_against_failing_log_and_no_shard_is_not_healthy(tmp_path):
    older = _older_clusterz(BY_NAME["remote-clusters-unreachable-1-22"], tmp_path)
    report = await run_snapshot(older)
    ids = [f.id for f in report.findings]
    assert ids == ["remote-api-unreachable", "remote-cluster-not-synced"]
    not_synced = report.findings[1]
    assert "contradicted" in not_synced.title
    assert any("clusterz lists cluster2 as synced, but" in e and "no endpoint" in e
               for e in not_synced.evidence)
    table = next(s for s in report.steps if s.title == "istiod's view of remote clusters").evidence
    assert any("| cluster1 | not listed (before 1.22" in e for e in table)
    assert comparable(await run_live(older)) == comparable(report)


async def test_clusterz_synced_with_a_quiet_log_stays_healthy(tmp_path):
    older = _older_clusterz(BY_NAME["remote-clusters-healthy"], tmp_path)
    report = await run_snapshot(older)
    assert report.verdict == "healthy" and not report.findings


# ------------------------------------------------------------------------ the check, in memory


def _pod(version: str) -> dict:
    return {"metadata": {"name": "istiod-0", "namespace": "istio-system",
                         "labels": {"app": "istiod"}}, "status": {"phase": "Running"},
            "spec": {"containers": [{"name": "discovery",
                                     "image": f"docker.io/istio/pilot:{version}"}]}}


def _secret(peer: str, server: str) -> dict:
    kubeconfig = (f"apiVersion: v1\nkind: Config\ncurrent-context: {peer}\nclusters:\n"
                  f"- name: {peer}\n  cluster: {{server: '{server}'}}\ncontexts:\n"
                  f"- name: {peer}\n  context: {{cluster: {peer}, user: {peer}}}\nusers:\n"
                  f"- name: {peer}\n  user: {{token: REDACTED}}\n")
    return {"kind": "Secret", "metadata": {"name": f"istio-remote-secret-{peer}",
                                           "namespace": "istio-system",
                                           "labels": {"istio/multiCluster": "true"}},
            "data": {peer: base64.b64encode(kubeconfig.encode()).decode()}}


def _metrics(statuses: dict[str, str]) -> str:
    lines = ["# TYPE istiod_remote_cluster_sync_status gauge"]
    for cluster, state in statuses.items():
        lines += [f'istiod_remote_cluster_sync_status{{cluster="{cluster}",cluster_type="remote",'
                  f'status="{s}"}} {int(s == state)}' for s in ("synced", "timeout")]
    return "\n".join(lines) + "\n"


def _refused(inp) -> Fact:
    return Fact(missing=Unavailable("cluster1", inp.describe(), "HTTP 403, refused", True,
                                    refused=403))


def run(*, version: str = "1.30.1", clusterz=None, metrics: str | None = None, log: str = "",
        peers: tuple[str, ...] = ("cluster2",)) -> tuple[list, list]:
    facts = {
        ("cluster1", ISTIOD_PODS): Fact([_pod(version)]),
        ("cluster1", ISTIO_SECRETS): Fact([_secret(p, f"https://172.18.0.{3 + i}:6443")
                                           for i, p in enumerate(peers)]),
        ("cluster1", CLUSTERZ): (_refused(CLUSTERZ) if clusterz is None
                                 else Fact(PerReplica({"istiod-0": clusterz}))),
        ("cluster1", ENDPOINT_SHARDZ): (_refused(ENDPOINT_SHARDZ) if clusterz is None
                                        else Fact(PerReplica({"istiod-0": {}}))),
        ("cluster1", ISTIOD_LOGS): Fact(PerReplica({"istiod-0": log})),
        ("cluster1", ISTIOD_METRICS): Fact(PerReplica({"istiod-0": metrics} if metrics else {})),
    }
    catalog = default_catalog()
    ctx = CheckContext(REGISTRY["istiod-remote-view"], facts, {},
                       [ClusterInfo("cluster1"), *map(ClusterInfo, peers)],
                       datetime(2026, 11, 20, tzinfo=timezone.utc), catalog, ["cluster1"])
    steps = REGISTRY["istiod-remote-view"].func(ctx)
    findings, _ = ordered_findings(steps, catalog)  # renders every template strictly
    return findings, steps


def line(level: str, msg: str, scope: str = "", labels: str = "") -> str:
    return f"{T}\t{level}\t" + (f"{scope}\t" if scope else "") + msg + \
        (f"\t{labels}" if labels else "") + "\n"


SYNCED_LOG = (line("info", "Add cluster", labels=f"cluster=cluster2 secret=istio-system/{SECRET}")
              + line("info", "sync complete",
                     labels="name=cluster[cluster2] synced attempt=9 time=788.402ms"))


def test_refused_clusterz_falls_back_to_metrics():
    findings, steps = run(metrics=_metrics({"cluster2": "timeout"}))
    assert [f.id for f in findings] == ["remote-cluster-not-synced", "istiod-debug-refused"]
    assert "istiod_remote_cluster_sync_status says timeout" in findings[0].evidence[0]
    assert steps[0].incomplete


def test_istiod_1_29_metric_timeout_is_not_believed():
    findings, steps = run(version="1.29.3", metrics=_metrics({"cluster2": "timeout"}),
                          log=SYNCED_LOG)
    assert [f.id for f in findings] == ["istiod-debug-refused"]
    assert any("#60082" in e for e in steps[0].evidence)


def test_istiod_1_29_metric_synced_is_believed():
    findings, _ = run(version="1.29.3", metrics=_metrics({"cluster2": "synced"}))
    assert [f.id for f in findings] == ["istiod-debug-refused"]


def test_refusal_names_what_the_version_reads():
    findings, _ = run(version="1.29.0", metrics=_metrics({"cluster2": "synced"}))
    assert "does not read DEBUG_ENDPOINT_AUTH_ALLOWED_NAMESPACES" in findings[0].cause
    assert "istiod 1.29.0 in cluster1" in findings[0].cause


def test_metrics_parser():
    assert remote_sync_status(_metrics({"c2": "synced", "c3": "timeout"})) == {
        "c2": "synced", "c3": "timeout"}
    assert remote_sync_status("# TYPE other_metric gauge\nother_metric 1\n") is None
    assert remote_sync_status("") is None
    with pytest.raises(MetricsError):
        remote_sync_status("istiod_remote_cluster_sync_status{ 1 x")


# ---------------------------------------------------------------- the reader identity alone


def _clusterz(**statuses: str) -> list[dict]:
    return [{"id": "cluster1", "secretName": "", "syncStatus": "synced"}] + [
        {"id": p, "secretName": f"istio-system/istio-remote-secret-{p}", "syncStatus": s}
        for p, s in statuses.items()]


def test_reader_forbidden_line_is_attributed_to_the_only_unread_remote():
    findings, _ = run(clusterz=_clusterz(cluster2="timeout"),
                      log=line("error", READER_FORBIDDEN, scope="klog"))
    assert [f.id for f in findings] == ["remote-api-unauthorized", "remote-cluster-not-synced"]
    assert findings[0].title.endswith("(permissions)")
    assert "the permissions are the problem" in findings[0].summary


def test_reader_forbidden_line_is_not_guessed_between_two_unread_remotes():
    findings, _ = run(clusterz=_clusterz(cluster2="timeout", cluster3="timeout"),
                      log=line("error", READER_FORBIDDEN, scope="klog"),
                      peers=("cluster2", "cluster3"))
    assert [f.id for f in findings] == ["remote-cluster-not-synced", "remote-cluster-not-synced"]


def test_rejected_credentials_say_so():
    findings, _ = run(clusterz=_clusterz(cluster2="timeout"),
                      log=line("error", "watch error in cluster cluster2: failed to list *v1.Pod: "
                                        "Unauthorized"))
    assert findings[0].title.endswith("(credentials)")
    assert "the credentials are the problem" in findings[0].summary


# ----------------------------------------------------------------------------- older syncz


def test_syncz_nonces_without_push_version_and_without_cluster_id():
    nonce = "0f6b3c57-5b7a-4d6e-9a7c-1c2d3e4f5a6b"
    (proxy,) = parse_syncz([{"proxy": "sleep-1.sample", "cluster_sent": nonce,
                             "cluster_acked": "11111111-2222-4333-8444-555555555555"}])
    assert proxy.cluster_id is None and proxy.types["CDS"].status == "STALE"
    assert proxy.types["CDS"].sent_at is None  # no RFC 3339 prefix: no "stale since"
