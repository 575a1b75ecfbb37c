"""istiod's log, /debug/clusterz and /debug/endpointShardz, in every wording and shape istiod used.

Log wordings are built from the exact format strings in istiod-log-format-strings.json (copied
from istio/istio), so a version's wording cannot drift from what the parser is tested against.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from diagnostics.parse.istiod_debug import (cluster_status, kubernetes_shard_clusters,
                                            parse_clusterz, parse_endpoint_shardz, service_shards,
                                            compact_endpoint_shardz)
from diagnostics.parse.istiod_logs import (classify_error, cluster_events, current, decisive,
                                           essential_error, events_for, parse_labels, parse_log,
                                           shorten, sync_status_from_log)

CONSTRUCTED = Path(__file__).resolve().parent / "fixtures" / "istio" / "constructed"
T = "2025-06-02T10:00:00.000001Z"
SECRET = "istio-system/istio-remote-secret-cluster2"
TIMEOUT = ('Get "https://172.18.0.3:6443/api/v1/pods?limit=500&resourceVersion=0": '
           "dial tcp 172.18.0.3:6443: i/o timeout")
KLOG = "k8s.io/client-go@v0.34.1/tools/cache/reflector.go:290"


def fixture_text(name: str) -> str:
    return (CONSTRUCTED / name).read_text()


def fixture_log() -> str:
    """The constructed excerpts without their `#` annotations."""
    return "\n".join(line for line in fixture_text("istiod-log-lines-multicluster.txt").splitlines()
                     if not line.startswith("#"))


def formats() -> dict[str, str]:
    doc = json.loads(fixture_text("istiod-log-format-strings.json"))
    return {f["id"]: f["format"] for f in doc["formats"]}


def fill(fmt: str, *values: str) -> str:
    """Go's Printf for %s/%v/%d/%q, in order."""
    it = iter(values)
    return re.sub(r"%[svdq]", lambda m: next(it), fmt)


def line(level: str, msg: str, scope: str = "", labels: str = "") -> str:
    return f"{T}\t{level}\t" + (f"{scope}\t" if scope else "") + msg + (f"\t{labels}" if labels
                                                                          else "")


def events(text: str):
    return cluster_events(parse_log(text))


# --------------------------------------------------------------------------- record layout


def test_text_layout_scope_message_and_labels():
    recs = parse_log(fixture_log())
    add = next(r for r in recs if r.msg == "Add cluster")
    assert (add.level, add.scope, add.labels) == (
        "info", "", {"cluster": "cluster2", "secret": SECRET})
    registry = next(r for r in recs if r.msg.startswith("Initializing Kubernetes"))
    assert registry.scope == "kube"
    synced = next(r for r in recs if r.msg == "sync complete")
    assert synced.labels["name"] == "cluster[cluster2] synced" and synced.labels["attempt"] == "9"


def test_multierror_record_spans_lines_and_keeps_its_trailing_labels():
    recs = parse_log(fixture_log())
    queued = next(r for r in recs if r.scope == "controllers")
    assert "* kubeconfig is not allowed: exec is not allowed" in queued.msg
    assert queued.labels == {"controller": "multicluster secret"}
    # the continuation lines did not become records of their own
    assert not any(r.msg.startswith("*") for r in recs)


def test_json_layout_puts_labels_in_fields():
    text = "\n".join([
        json.dumps({"level": "info", "time": T, "msg": "Add cluster", "cluster": "cluster2",
                    "secret": SECRET}),
        json.dumps({"level": "error", "time": T,
                    "msg": f"watch error in cluster cluster2: {TIMEOUT}"}),
        json.dumps({"level": "info", "time": T, "scope": "klog",
                    "msg": f"{KLOG}: failed to list *v1.Pod: {TIMEOUT}"}),
    ])
    got = events(text)
    assert [(e.kind, e.cluster, e.secret) for e in got] == [
        ("added", "cluster2", SECRET), ("watch_error", "cluster2", None), ("list_error", None, None)]
    assert got[1].cause == got[2].cause == "unreachable"


def test_labels_values_may_contain_spaces():
    assert parse_labels("controller=multicluster secret name=x") == {
        "controller": "multicluster secret", "name": "x"}


def test_lines_of_no_known_layout_are_skipped():
    assert parse_log("garbage\n\n{not json}\n") == []


# --------------------------------------------------------------------- every version's wording

@pytest.mark.parametrize("fmt_id, values, labels, kind, cluster, secret", [
    ("mc.cluster.create_failed", ("Add", "kubeconfig is not allowed: exec is not allowed"),
     f"cluster=cluster2 secret={SECRET}", "create_failed", "cluster2", SECRET),
    ("mc.cluster.create_failed", ("Update", "kubeconfig is empty"),
     f"cluster=cluster2 config={SECRET}", "create_failed", "cluster2", SECRET),  # master label
    ("legacy.add_failed_1_9_15", ("Adding", "cluster2", SECRET, "kubeconfig is not valid: x"),
     "", "create_failed", "cluster2", SECRET),
    ("legacy.add_failed",
     ("istio-remote-secret-cluster2", "cluster2", "kubeconfig cannot be loaded: y"),
     "", "create_failed", "cluster2", "istio-remote-secret-cluster2"),
    ("mc.sync_timeout", ("cluster2", "30s"), "", "sync_timeout", "cluster2", None),
    ("legacy.sync_timeout", ("30s",), "", "sync_timeout", None, None),
    ("mc.sync_failed", ("cluster2",), "", "sync_failed", "cluster2", None),
    ("kube.watch_error", ("cluster2", f"failed to list *v1.Pod: {TIMEOUT}"), "", "watch_error",
     "cluster2", None),
    ("mc.cluster.action", ("Add",), f"cluster=cluster2 secret={SECRET}", "added", "cluster2", SECRET),
    ("mc.cluster.action", ("Update",), f"cluster=cluster2 config={SECRET}", "added", "cluster2",
     SECRET),
    ("mc.delete", ("cluster2", SECRET), "", "deleted", "cluster2", SECRET),
])
def test_secret_controller_wordings_of_every_version(fmt_id, values, labels, kind, cluster, secret):
    level = "info" if kind in ("added", "deleted") else "error"
    got = events(line(level, fill(formats()[fmt_id], *values), labels=labels))
    assert [(e.kind, e.cluster, e.secret) for e in got] == [(kind, cluster, secret)]


@pytest.mark.parametrize("inner", ["error adding secret", "error adding remote config"])
def test_queue_error_of_every_version_names_the_secret(inner):
    msg = fill(formats()["mc.queue.error_add"], SECRET,
               f"{inner} {SECRET}: 1 error occurred:\n\t* exec is not allowed\n\n")
    text = line("error", msg, scope="controllers") + "\n\tcontroller=multicluster secret\n"
    (event,) = events(text)
    assert (event.kind, event.cluster, event.secret) == ("create_failed", None, SECRET)
    assert event.cause == "kubeconfig" and event.essential == "exec is not allowed"


def test_klog_reflector_line_names_no_cluster_but_its_server():
    msg = fill(formats()["klog.list_failed"], "*v1.Pod", TIMEOUT).replace(
        "<ver>", "v0.34.1").replace("<line>", "290")
    (event,) = events(line("info", msg, scope="klog"))
    assert (event.kind, event.cluster, event.cause) == ("list_error", None, "unreachable")
    assert events_for([event], "cluster2", server=("172.18.0.3", 6443)) == [event]
    assert events_for([event], "cluster2", server=("172.18.0.9", 6443)) == []


def test_newer_client_go_unhandled_error_shape():
    text = line("error", "Unhandled Error", scope="klog",
                labels='err="k8s.io/client-go/tools/cache/reflector.go:166: Failed to watch '
                       '*v1.Pod: failed to list *v1.Pod: Unauthorized" logger="UnhandledError"')
    (event,) = events(text)
    assert (event.kind, event.cause, event.essential) == ("list_error", "unauthorized",
                                                          "Unauthorized")


def test_lines_of_other_subsystems_are_no_cluster_events():
    text = "\n".join([
        line("warn", "cluster has already been registered",
             labels=f"cluster=cluster2 secret={SECRET}"),
        line("error", "Failed to authenticate client from 10.0.0.7:5: Authenticator "
             'KubeJWTAuthenticator: client claims to be in cluster "cluster2"', scope="security"),
        line("info", "processing secret event for secret " + SECRET),
        line("info", "processing remote config event for " + SECRET),
    ])
    assert events(text) == []


def test_fixture_scenarios_classify_to_their_causes():
    got = [(e.kind, e.cluster, e.cause) for e in events(fixture_log())
           if e.cause is not None]
    assert got == [
        ("create_failed", "cluster3", "kubeconfig"),   # exec refused (1.16+ wording)
        ("create_failed", None, "kubeconfig"),         # ... echoed by the work queue
        ("list_error", None, "unreachable"),           # klog: i/o timeout
        ("watch_error", "cluster2", "unreachable"),
        ("sync_timeout", "cluster2", "timeout"),
        ("list_error", None, "tls"),                   # klog: x509
        ("watch_error", "cluster2", "tls"),
        ("watch_error", "cluster2", "unauthorized"),   # Unauthorized
        ("watch_error", "cluster2", "unauthorized"),   # RBAC forbidden
        ("create_failed", "cluster2", "kubeconfig"),   # <= 1.8 wording
    ]


# ----------------------------------------------------------------------------- classification

@pytest.mark.parametrize("text, cause", [
    ("dial tcp 172.18.0.3:6443: i/o timeout", "unreachable"),
    ("dial tcp 172.18.0.3:6443: connect: connection refused", "unreachable"),
    ("dial tcp 10.1.2.3:443: connect: no route to host", "unreachable"),
    ("dial tcp: lookup api.example.internal on 10.96.0.10:53: no such host", "dns"),
    ("dial tcp: lookup api.example.internal on 10.96.0.10:53: server misbehaving", "dns"),
    ("dial tcp: lookup api.example.internal on 10.96.0.10:53: read udp 10.1.1.1:5->10.96.0.10:53: "
     "i/o timeout", "dns"),  # a DNS server that times out is still DNS
    ("tls: failed to verify certificate: x509: certificate signed by unknown authority", "tls"),
    ("x509: certificate signed by unknown authority", "tls"),  # Go < 1.20 wording
    ("x509: certificate is valid for 10.0.0.1, kubernetes, not 172.18.0.3", "tls"),
    ("Unauthorized", "unauthorized"),
    ('pods is forbidden: User "system:serviceaccount:istio-system:istio-reader-service-account" '
     'cannot list resource "pods"', "unauthorized"),
    ("kubeconfig is empty", "kubeconfig"),
    ("kubeconfig cannot be loaded: yaml: line 3: mapping values are not allowed", "kubeconfig"),
    ("kubeconfig is not valid: context was not found for specified context: x", "kubeconfig"),
    ("kubeconfig is not allowed: auth provider gcp is not allowed", "kubeconfig"),
    ("kubeconfig is not allowed: tokenFile is not allowed", "kubeconfig"),
    ("remote cluster cluster2 failed to sync after 30s", "timeout"),
    ("something else entirely", None),
])
def test_classify_error(text, cause):
    assert classify_error(text) == cause


def test_essential_error_and_shorten():
    assert essential_error(f"failed to list *v1.Pod: {TIMEOUT}") == \
        "dial tcp 172.18.0.3:6443: i/o timeout"
    assert essential_error("Failed to watch *v1.Pod: failed to list *v1.Pod: Unauthorized") == \
        "Unauthorized"
    short = shorten(f"watch error in cluster cluster2: failed to list *v1.Pod: {TIMEOUT}")
    assert "limit=500" not in short and short.endswith("i/o timeout")
    long = shorten("x" * 500 + " the decisive end", limit=100)
    assert len(long) <= 100 and long.endswith("the decisive end")


# ------------------------------------------------------------------ state of a cluster from logs

def test_current_events_start_after_the_last_add_or_sync():
    text = "\n".join([
        line("info", "Add cluster", labels=f"cluster=cluster2 secret={SECRET}"),
        line("error", "watch error in cluster cluster2: failed to list *v1.Pod: x509: bad"),
        line("info", "sync complete", labels="name=cluster[cluster2] synced attempt=3 time=1s"),
    ])
    about = events_for(events(text), "cluster2", SECRET)
    assert current(about) == [] and sync_status_from_log(about) == "synced"
    later = about + events(line("error", f"watch error in cluster cluster2: {TIMEOUT}"))
    assert [e.cause for e in current(later)] == ["unreachable"]
    assert sync_status_from_log(later) == "syncing"


def test_sync_status_from_log():
    timeout = events(line("error", "remote cluster cluster2 failed to sync after 30s"))
    refused = events(line("error", "Add cluster: create remote cluster failed: kubeconfig is empty",
                          labels=f"cluster=cluster2 secret={SECRET}"))
    legacy = events(line("error", "remote clusters failed to sync after 30s"))
    assert sync_status_from_log(events_for(timeout, "cluster2")) == "timeout"
    assert sync_status_from_log(events_for(refused, "cluster2")) == "absent"
    assert sync_status_from_log(events_for(legacy, "cluster2")) == "timeout"
    assert sync_status_from_log([]) is None


def test_decisive_prefers_the_latest_cause_and_the_line_naming_the_cluster():
    text = "\n".join([
        line("error", "watch error in cluster cluster2: failed to list *v1.Pod: x509: bad"),
        line("info", f"{KLOG}: failed to list *v1.Pod: {TIMEOUT}", scope="klog"),
        line("error", f"watch error in cluster cluster2: failed to list *v1.Pod: {TIMEOUT}"),
        line("error", "remote cluster cluster2 failed to sync after 30s"),
    ])
    about = events_for(events(text), "cluster2", server=("172.18.0.3", 6443))
    best = decisive(about)
    assert (best.kind, best.cause) == ("watch_error", "unreachable")


def test_events_of_other_clusters_are_not_attributed():
    text = line("error", f"watch error in cluster cluster3: {TIMEOUT}")
    assert events_for(events(text), "cluster2", SECRET, ("172.18.0.3", 6443)) == []


# ------------------------------------------------------------------------------ /debug/clusterz

def test_clusterz_fixtures():
    healthy = parse_clusterz(json.loads(fixture_text("debug-clusterz-healthy.json")))
    assert [(c.id, c.status) for c in healthy] == [("cluster1", "synced"), ("cluster2", "synced")]
    assert healthy[0].secret == "" and healthy[1].secret == SECRET
    degraded = json.loads(fixture_text("debug-clusterz-degraded.json"))
    assert cluster_status(degraded, "cluster2") == "timeout"
    assert cluster_status(degraded, "cluster3") == "syncing"
    assert cluster_status(degraded, "cluster4") == "absent"


@pytest.mark.parametrize("body", [None, [], {}, "null", [None, {"secretName": "x"}]])
def test_clusterz_tolerates_null_and_junk(body):
    assert parse_clusterz(body) == []


def test_clusterz_key_casing_is_not_significant():
    assert cluster_status([{"ID": "c2", "SecretName": "ns/s", "SyncStatus": "Timeout"}], "c2") == \
        "timeout"


# ------------------------------------------------------------------------ /debug/endpointShardz

def shardz_fixture() -> dict:
    return json.loads(fixture_text("debug-endpointShardz-multicluster.json"))


def as_pre_1_24(body: dict) -> dict:
    """The same body as istiod <= 1.23 wrote it: `Address` (string) instead of `Addresses`."""
    old = copy.deepcopy(body)
    for by_ns in old.values():
        for shards in by_ns.values():
            for eps in shards["Shards"].values():
                for ep in eps:
                    ep["Address"] = ep.pop("Addresses")[0]
    return old


@pytest.mark.parametrize("shape", ["Addresses (>= 1.24)", "Address (<= 1.23)"])
def test_endpoint_shardz_both_address_forms(shape):
    body = shardz_fixture() if shape.startswith("Addresses") else as_pre_1_24(shardz_fixture())
    shards = service_shards(parse_endpoint_shardz(body), "helloworld", "sample")
    assert {s.key: [ep.addresses for ep in s.endpoints] for s in shards} == {
        "Kubernetes/cluster1": [("10.0.0.11",)], "Kubernetes/cluster2": [("10.100.0.1",)]}
    assert kubernetes_shard_clusters(shards) == {"cluster1", "cluster2"}
    assert shards[0].endpoints[0].health == 1 and shards[0].endpoints[0].port == 5000


def test_endpoint_shardz_tolerates_null():
    assert parse_endpoint_shardz(None) == []
    body = {"a.b.svc.cluster.local": {"b": {"Shards": {"Kubernetes/c1": None},
                                            "ServiceAccounts": None}},
            "x.y.svc.cluster.local": None}
    (shard,) = parse_endpoint_shardz(body)
    assert (shard.cluster, shard.endpoints) == ("c1", ())
    assert kubernetes_shard_clusters([shard]) == set()


def test_service_shards_match_any_domain_and_only_the_namespace():
    body = {"helloworld.sample.svc.corp.example": {"sample": {"Shards": {
        "Kubernetes/c2": [{"Address": "10.0.0.2"}]}}},
            "helloworld.other.svc.cluster.local": {"other": {"Shards": {
                "Kubernetes/c3": [{"Addresses": ["10.0.0.3"]}]}}}}
    assert [s.cluster for s in service_shards(parse_endpoint_shardz(body), "helloworld", "sample")] \
        == ["c2"]


def test_compact_shards_keep_their_counts_and_refuse_their_endpoints():
    """How ENDPOINT_SHARDZ keeps a replica's body once read: every shard with its number of
    endpoints (what the checks ask), none of the endpoints themselves (60 MB decoded at
    10,000 pods a cluster)."""
    body = shardz_fixture()
    whole, compact = parse_endpoint_shardz(body), compact_endpoint_shardz(body)
    assert [(s.key, s.hostname, s.count) for s in compact] == \
        [(s.key, s.hostname, len(s.endpoints)) for s in whole]
    assert all(s.raw == () for s in compact)
    assert parse_endpoint_shardz(compact) is compact  # read again as it was kept
    with pytest.raises(ValueError):
        next(s for s in compact if s.count).endpoints
