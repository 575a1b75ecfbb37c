"""istiod's view of remote clusters: kubeconfig checks, NetworkPolicy evaluation, and the check
itself on small inline objects (kubeconfig, clusterz, log text and policies in, finding ids out).
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest
import yaml

import diagnostics.checks  # noqa: F401 - registers the checks
from diagnostics.catalog import default_catalog
from diagnostics.checking import CheckContext, REGISTRY
from diagnostics.facts import Fact, PerReplica, Unavailable
from diagnostics.inputs import (CLUSTERZ, ENDPOINT_SHARDZ, ISTIOD_LOGS, ISTIOD_PODS, ISTIO_SECRETS,
                                NETWORK_POLICIES)
from diagnostics.model import ClusterInfo
from diagnostics.selectors import label_selector_matches
from diagnostics.verdict import ordered_findings
from diagnostics.views.remote_access import (egress_decision, insecure_options, inspect_kubeconfig,
                                             is_loopback, secret_kubeconfig_text)

T = "2026-11-20T08:20:40.142458Z"
SECRET = "istio-remote-secret-cluster2"


def kubeconfig(server: str = "https://172.18.0.3:6443", **user) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "cluster2",
        "clusters": [{"name": "cluster2", "cluster": {"server": server,
                                                      "certificate-authority-data": "Q0E="}}],
        "contexts": [{"name": "cluster2", "context": {"cluster": "cluster2", "user": "cluster2"}}],
        "users": [{"name": "cluster2", "user": user or {"token": "REDACTED"}}]})


# -------------------------------------------------------------------------------- kubeconfig

@pytest.mark.parametrize("user, problem", [
    ({"token": "REDACTED"}, None),
    ({"client-certificate-data": "REDACTED", "client-key-data": "REDACTED"}, None),
    ({"auth-provider": {"name": "oidc", "config": {"id-token": "REDACTED"}}}, None),
    ({"exec": {"command": "aws", "args": ["eks", "get-token"]}},
     "kubeconfig is not allowed: exec is not allowed"),
    ({"auth-provider": {"name": "gcp"}}, "kubeconfig is not allowed: auth provider gcp is not allowed"),
    ({"client-key": "/home/me/.kube/key.pem"}, "kubeconfig is not allowed: clientKey is not allowed"),
    ({"client-certificate": "/home/me/.kube/c.pem"},
     "kubeconfig is not allowed: clientCertificate is not allowed"),
    ({"tokenFile": "/var/run/secrets/token"}, "kubeconfig is not allowed: tokenFile is not allowed"),
])
def test_auth_methods_istiod_refuses(user, problem):
    assert inspect_kubeconfig(kubeconfig(**user)).problem == problem


def test_allowlist_on_istiod_lifts_a_refusal():
    pods = [{"spec": {"containers": [{"name": "discovery", "env": [
        {"name": "PILOT_INSECURE_MULTICLUSTER_KUBECONFIG_OPTIONS", "value": "exec,gcp"}]}]}}]
    allowed = insecure_options(pods)
    assert inspect_kubeconfig(kubeconfig(exec={"command": "aws"}), allowed).problem is None
    assert inspect_kubeconfig(kubeconfig(**{"auth-provider": {"name": "gcp"}}), allowed).problem \
        is None


@pytest.mark.parametrize("text, starts", [
    (None, "kubeconfig is empty"),
    ("   ", "kubeconfig is empty"),
    ("clusters: [unclosed", "kubeconfig cannot be loaded"),
    ("just a string", "kubeconfig cannot be loaded"),
    ("kind: Config\nclusters: []\ncontexts: []\n", "kubeconfig is not valid"),
    (kubeconfig().replace("current-context: cluster2", "current-context: ''"),
     "kubeconfig is not valid: no current-context"),
    (kubeconfig().replace("current-context: cluster2", "current-context: other"),
     "kubeconfig is not valid: context was not found"),
    (kubeconfig(server=""), "kubeconfig is not valid: no server"),
])
def test_malformed_kubeconfigs(text, starts):
    assert (inspect_kubeconfig(text).problem or "").startswith(starts)


@pytest.mark.parametrize("server, loopback", [
    ("https://127.0.0.1:6443", True), ("https://127.0.0.5:6443", True),
    ("https://localhost:6443", True), ("https://[::1]:6443", True), ("https://0.0.0.0:6443", True),
    ("https://172.18.0.3:6443", False), ("https://api.example.com", False),
])
def test_loopback_servers(server, loopback):
    view = inspect_kubeconfig(kubeconfig(server=server))
    assert view.loopback is loopback
    assert (view.problem is not None) is loopback


def test_server_parts_and_auth_kinds_never_credentials():
    view = inspect_kubeconfig(kubeconfig("https://api.example.com", token="REDACTED"))
    assert (view.host, view.port, view.auth) == ("api.example.com", 443, ("token",))
    exec_view = inspect_kubeconfig(kubeconfig(exec={"command": "aws", "env": [
        {"name": "AWS_PROFILE", "value": "REDACTED"}]}))
    assert exec_view.auth == ("exec (aws)",)
    assert is_loopback("LOCALHOST.") and not is_loopback("10.0.0.1")


def test_secret_value_forms():
    text = kubeconfig()
    data = {"data": {"cluster2": base64.b64encode(text.encode()).decode()}}
    assert secret_kubeconfig_text(data, "cluster2") == text
    assert secret_kubeconfig_text({"stringData": {"cluster2": text}}, "cluster2") == text
    assert secret_kubeconfig_text({"data": {"cluster2": "REDACTED"}}, "cluster2") is None


# --------------------------------------------------------------------------- NetworkPolicies

ISTIOD = {"metadata": {"name": "istiod-1", "namespace": "istio-system",
                       "labels": {"app": "istiod", "istio.io/rev": "default"}}}


def policy(*egress, selector=None, types=("Egress",), name="p") -> dict:
    spec = {"podSelector": {"matchLabels": {"app": "istiod"}} if selector is None else selector,
            "egress": list(egress)}
    if types is not None:
        spec["policyTypes"] = list(types)
    return {"metadata": {"name": name, "namespace": "istio-system"}, "spec": spec}


def to_ip(cidr: str, *ports, except_=()) -> dict:
    rule = {"to": [{"ipBlock": {"cidr": cidr, **({"except": list(except_)} if except_ else {})}}]}
    if ports:
        rule["ports"] = list(ports)
    return rule


DNS = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
       "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


@pytest.mark.parametrize("policies, host, verdict", [
    ([], "172.18.0.3", "unrestricted"),
    ([policy(types=("Ingress",))], "172.18.0.3", "unrestricted"),
    ([policy(DNS, selector={"matchLabels": {"app": "other"}})], "172.18.0.3", "unrestricted"),
    ([policy(DNS, to_ip("172.18.0.2/32", {"port": 6443}))], "172.18.0.3", "blocked"),
    ([policy(DNS, to_ip("172.18.0.0/16", {"port": 6443}))], "172.18.0.3", "allowed"),
    ([policy(to_ip("172.18.0.0/16", {"port": 6443}, except_=["172.18.0.0/24"]))], "172.18.0.3",
     "blocked"),
    ([policy(to_ip("172.18.0.0/16", {"port": 443}))], "172.18.0.3", "blocked"),
    ([policy(to_ip("172.18.0.0/16", {"port": 6000, "endPort": 7000}))], "172.18.0.3", "allowed"),
    ([policy(to_ip("172.18.0.0/16", {"port": 6443, "protocol": "UDP"}))], "172.18.0.3", "blocked"),
    ([policy(to_ip("0.0.0.0/0"))], "172.18.0.3", "allowed"),
    ([policy({"ports": [{"port": 6443}]})], "172.18.0.3", "allowed"),  # no `to`: anywhere
    ([policy({})], "172.18.0.3", "allowed"),  # an empty rule admits everything
    ([policy()], "172.18.0.3", "blocked"),  # Egress with no rule denies all egress
    ([policy(DNS), policy(to_ip("172.18.0.3/32", {"port": 6443}), name="q")], "172.18.0.3",
     "allowed"),  # policies add up
    ([policy(to_ip("10.0.0.0/8", {"port": 6443}))], "api.example.com", "unknown"),  # a name
    ([policy(DNS)], "api.example.com", "blocked"),  # no ipBlock could admit it anyway
    ([policy(to_ip("172.18.0.0/16", {"port": "https"}))], "172.18.0.3", "unknown"),  # named port
    ([policy(DNS, types=None)], "172.18.0.3", "blocked"),  # policyTypes unset, egress present
    ([policy(to_ip("fd00::/8", {"port": 6443}))], "fd00::3", "allowed"),
])
def test_egress_decision(policies, host, verdict):
    assert egress_decision(policies, ISTIOD, host, 6443).verdict == verdict


def test_policies_of_other_namespaces_do_not_apply():
    other = policy(DNS)
    other["metadata"]["namespace"] = "kube-system"
    assert egress_decision([other], ISTIOD, "172.18.0.3", 6443).verdict == "unrestricted"


@pytest.mark.parametrize("selector, matches", [
    ({}, True),
    ({"matchLabels": {"app": "istiod"}}, True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["istiod", "pilot"]}]}, True),
    ({"matchExpressions": [{"key": "istio.io/rev", "operator": "NotIn", "values": ["canary"]}]}, True),
    ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
    ({"matchLabels": {"app": "istiod"},
      "matchExpressions": [{"key": "istio.io/rev", "operator": "Exists"}]}, True),
])
def test_label_selectors(selector, matches):
    assert label_selector_matches(selector, ISTIOD["metadata"]["labels"]) is matches


# ------------------------------------------------------------------ the check: text in, ids out

NOT_CAPTURED = object()


def remote_secret(text: str | None) -> dict:
    value = "REDACTED" if text is None else base64.b64encode(text.encode()).decode()
    return {"kind": "Secret", "metadata": {"name": SECRET, "namespace": "istio-system",
                                           "labels": {"istio/multiCluster": "true"}},
            "data": {"cluster2": value}}


def clusterz(status: str | None) -> list[dict]:
    own = [{"id": "cluster1", "secretName": "", "syncStatus": "synced"}]
    return own if status is None else own + [
        {"id": "cluster2", "secretName": f"istio-system/{SECRET}", "syncStatus": status}]


def log(*messages: str) -> str:
    return "".join(f"{T}\terror\t{m}\n" for m in messages)


WATCH_TIMEOUT = ('watch error in cluster cluster2: failed to list *v1.Pod: Get "https://{host}:6443/'
                 'api/v1/pods?limit=500&resourceVersion=0": dial tcp {host}:6443: {err}')
SYNC_TIMEOUT = "remote cluster cluster2 failed to sync after 30s"


def per_replica(values: dict, inp) -> Fact:
    if values is NOT_CAPTURED:
        return Fact(missing=Unavailable("cluster1", inp.describe(), "not captured", False))
    return Fact(PerReplica(values=dict(values)))


def run(secret_text=None, *, statuses=("timeout",), logs=("",), policies=(),
        with_secret: bool = True) -> tuple[list[str], list]:
    """Run istiod-remote-view for primary cluster1 (one replica per status) against cluster2.

    `secret_text` is the kubeconfig under key cluster2 (default: a token kubeconfig for
    172.18.0.3:6443; NOT_CAPTURED: a value capture redacted as a whole).
    """
    count = next((len(v) for v in (statuses, logs) if v is not NOT_CAPTURED), 1)
    pods = [{"metadata": {"name": f"istiod-{i}", "namespace": "istio-system",
                          "labels": {"app": "istiod"}}, "status": {"phase": "Running"}}
            for i in range(count)]
    names = [p["metadata"]["name"] for p in pods]
    text = None if secret_text is NOT_CAPTURED else (secret_text or kubeconfig())
    secrets = [remote_secret(text)] if with_secret else []
    cz = NOT_CAPTURED if statuses is NOT_CAPTURED else {
        n: clusterz(s) for n, s in zip(names, statuses)}
    lg = NOT_CAPTURED if logs is NOT_CAPTURED else dict(zip(names, logs))
    facts = {("cluster1", ISTIOD_PODS): Fact(pods), ("cluster1", ISTIO_SECRETS): Fact(secrets),
             ("cluster1", CLUSTERZ): per_replica(cz, CLUSTERZ),
             ("cluster1", ENDPOINT_SHARDZ): per_replica({n: {} for n in names}, ENDPOINT_SHARDZ),
             ("cluster1", ISTIOD_LOGS): per_replica(lg, ISTIOD_LOGS),
             ("cluster1", NETWORK_POLICIES): Fact(list(policies))}
    catalog = default_catalog()
    ctx = CheckContext(REGISTRY["istiod-remote-view"], facts,
                       {"service": "helloworld", "namespace": "sample"},
                       [ClusterInfo("cluster1"), ClusterInfo("cluster2")],
                       datetime(2026, 11, 20, tzinfo=timezone.utc), catalog, ["cluster1"])
    steps = REGISTRY["istiod-remote-view"].func(ctx)
    findings, _ = ordered_findings(steps, catalog)  # renders strictly: every param supplied
    return [f.id for f in findings], steps


def test_unreachable_api_server():
    ids, _ = run(logs=[log(WATCH_TIMEOUT.format(host="172.18.0.3", err="i/o timeout"),
                           SYNC_TIMEOUT)])
    assert ids == ["remote-api-unreachable", "remote-cluster-not-synced"]


def test_a_blocking_policy_replaces_the_generic_unreachable():
    blocking = policy(DNS, to_ip("172.18.0.2/32", {"port": 6443}), name="istiod-egress")
    ids, steps = run(logs=[log(WATCH_TIMEOUT.format(host="172.18.0.3", err="i/o timeout"))],
                     policies=[blocking])
    assert ids == ["istiod-egress-blocked-by-networkpolicy", "remote-cluster-not-synced"]
    egress = steps[0].findings[0]
    assert egress.params["policy"] == "istiod-egress" and egress.params["server_port"] == 6443


def test_a_policy_that_admits_the_server_is_no_cause():
    admitting = policy(DNS, to_ip("172.18.0.0/16", {"port": 6443}))
    ids, _ = run(logs=[log(WATCH_TIMEOUT.format(host="172.18.0.3", err="i/o timeout"))],
                 policies=[admitting])
    assert ids == ["remote-api-unreachable", "remote-cluster-not-synced"]


def test_loopback_server_replaces_the_generic_unreachable():
    ids, steps = run(kubeconfig("https://127.0.0.1:6443"),
                     logs=[log(WATCH_TIMEOUT.format(host="127.0.0.1",
                                                    err="connect: connection refused"))])
    assert ids == ["remote-kubeconfig-invalid", "remote-cluster-not-synced"]
    assert steps[0].findings[0].params["error"] == "dial tcp 127.0.0.1:6443: connect: connection refused"


def test_refused_auth_seen_in_the_kubeconfig_without_any_log():
    ids, steps = run(kubeconfig(exec={"command": "aws"}), statuses=("absent",), logs=NOT_CAPTURED)
    assert ids == ["remote-kubeconfig-invalid", "remote-cluster-not-synced"]
    not_synced = steps[0].findings[-1]
    assert not_synced.params["sync_status"] == "absent"


def test_unparsable_kubeconfig_redacted_on_capture():
    ids, _ = run(NOT_CAPTURED, statuses=("absent",))
    assert ids == ["remote-kubeconfig-invalid", "remote-cluster-not-synced"]


@pytest.mark.parametrize("err, first", [
    ("tls: failed to verify certificate: x509: certificate signed by unknown authority",
     "remote-api-tls"),
    ("dial tcp: lookup cluster2-api on 10.96.0.10:53: no such host", "remote-api-dns"),
])
def test_specific_causes_from_watch_errors(err, first):
    text = log(f'watch error in cluster cluster2: failed to list *v1.Pod: Get "https://x:6443/": {err}')
    ids, _ = run(logs=[text])
    assert ids == [first, "remote-cluster-not-synced"]


def test_unauthorized_and_forbidden():
    for err in ("Unauthorized", 'pods is forbidden: User "system:serviceaccount:istio-system:'
                                'istio-reader-service-account" cannot list resource "pods"'):
        ids, _ = run(logs=[log(f"watch error in cluster cluster2: failed to list *v1.Pod: {err}")])
        assert ids == ["remote-api-unauthorized", "remote-cluster-not-synced"]


def test_a_synced_cluster_has_no_finding_whatever_its_kubeconfig_says():
    ids, steps = run(kubeconfig("https://127.0.0.1:6443"), statuses=("synced",))
    assert ids == [] and steps[0].status == "pass"


def test_only_a_timeout_gives_the_general_finding_alone():
    ids, _ = run(logs=[log(SYNC_TIMEOUT)])
    assert ids == ["remote-cluster-not-synced"]


def test_every_replica_is_asked():
    ids, steps = run(statuses=("synced", "timeout"), logs=["", log(SYNC_TIMEOUT)])
    assert ids == ["remote-cluster-not-synced"]
    assert steps[0].findings[0].params["istiod_pod"] == "istiod-1"
    table = [e for e in steps[0].evidence if e.startswith("istiod-")]
    assert len(table) == 4  # 2 replicas x 2 clusters


def test_istiod_without_clusterz_is_judged_from_its_log():
    """istiod 1.10 has no /debug/clusterz and logs one global sync timeout."""
    text = log("watch error in cluster cluster2: failed to list *v1.Pod: x509: certificate signed "
               "by unknown authority", "remote clusters failed to sync after 30s")
    ids, steps = run(statuses=NOT_CAPTURED, logs=[text])
    assert ids == ["remote-api-tls", "remote-cluster-not-synced"]
    assert steps[0].findings[-1].params["sync_status"] == "timeout"


def test_nothing_to_judge_from_is_incomplete_not_healthy():
    ids, steps = run(statuses=NOT_CAPTURED, logs=NOT_CAPTURED)
    assert ids == [] and steps[0].incomplete


def test_a_missing_secret_is_left_to_remote_secrets():
    ids, steps = run(with_secret=False)
    assert ids == [] and steps[0].status == "skip"


def test_evidence_never_carries_credentials():
    text = kubeconfig(token="eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl")
    _, steps = run(text, logs=[log(SYNC_TIMEOUT)])
    evidence = " ".join(steps[0].evidence + [e for f in steps[0].findings for e in f.evidence])
    assert "eyJ" not in evidence and "auth token" in evidence
