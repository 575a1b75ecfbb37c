"""proxy-status on small inline meshes: syncz bodies and pods in, states and finding ids out.

istioctl's own test data (tests/fixtures/istio/istioctl-proxy-status-*) is the oracle for the
per-type state derivation; the rest covers the branches the generated scenarios do not take.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import diagnostics.checks  # noqa: F401 - registers the checks
from diagnostics.facts import Fact, PerReplica, ProxyCensus, Unavailable
from diagnostics.inputs import ISTIOD_PODS, PROXY_PODS, SKEWED_PROXY_PODS, SYNCZ
from diagnostics.model import Step
from diagnostics.parse.syncz import NOT_SENT, STALE, parse_syncz
from diagnostics.views.proxies import skewed
from diagnostics.workloads import image_version, runs_proxy
from tests.check_support import ids, run_check

FIXTURES = Path(__file__).parent / "fixtures" / "istio"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"


# ----------------------------------------------------------------------------------- builders

def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def nonce(at: datetime, n: int = 7) -> str:
    return f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')}/{n}" + "0f6b5c1e-6d1a-4a4e-9a0b-5f0a0e0c1d2e"


def entry(proxy: str, cluster: str = "cluster1", version: str = "1.28.1", *, stale=(),
          error: dict | None = None, unsent=(), sent_at: datetime | None = None,
          types=(CDS, LDS, EDS, RDS)) -> dict:
    """A 1.23+ syncz entry: every type in `types` synced at 08:31 unless told otherwise."""
    old = NOW - timedelta(minutes=29)
    sent_at = sent_at or NOW - timedelta(minutes=17)
    res = {}
    for url in types:
        if url in unsent:
            res[url] = {"sentTime": "0001-01-01T00:00:00Z"}
        elif url in stale or (error and url in error):
            res[url] = {"sent": nonce(sent_at, 31), "acked": nonce(old), "sentTime": ts(sent_at)}
            if error and url in error:
                res[url]["lastError"] = error[url]
        else:
            res[url] = {"sent": nonce(old), "acked": nonce(old), "sentTime": ts(old)}
    return {"cluster_id": cluster, "proxy": proxy, "proxy_type": "sidecar",
            "istio_version": version, "resources": res}


def istiod(name: str = "istiod-1", version: str = "1.28.1") -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "istio-system",
                                        "labels": {"app": "istiod"}},
            "spec": {"containers": [{"name": "discovery",
                                     "image": f"docker.io/istio/pilot:{version}"}]},
            "status": {"phase": "Running"}}


def sidecar_pod(name: str, ns: str = "sample", *, phase: str = "Running", native: bool = False,
                started: datetime | None = None, running: bool = True, deleting: bool = False,
                version: str = "1.28.1") -> dict:
    proxy = {"name": "istio-proxy", "image": f"docker.io/istio/proxyv2:{version}"}
    spec: dict = {"containers": [{"name": "app"}]}
    if native:
        spec["initContainers"] = [dict(proxy, restartPolicy="Always")]
    else:
        spec["containers"].append(proxy)
    state = ({"running": {"startedAt": ts(started or NOW - timedelta(hours=2))}} if running
             else {"waiting": {"reason": "PodInitializing"}})
    statuses = [{"name": "istio-proxy", "state": state}]
    meta: dict = {"name": name, "namespace": ns,
                  "annotations": {"sidecar.istio.io/status": '{"revision":"default"}'},
                  "ownerReferences": [{"kind": "ReplicaSet", "name": "app-abc12",
                                       "controller": True}],
                  "labels": {"pod-template-hash": "abc12"}}
    if deleting:
        meta["deletionTimestamp"] = ts(NOW)
    status: dict = {"phase": phase}
    status["initContainerStatuses" if native else "containerStatuses"] = statuses
    return {"kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def run(check: str, mesh: dict[str, dict], args: dict | None = None,
        focus: list[str] | None = None, now: datetime = NOW) -> list[Step]:
    return run_check(check, mesh, now=now, args=args, focus=focus,
                     empty=lambda inp: PerReplica() if inp == SYNCZ else [])


def pods_of(pods) -> dict:
    """A cluster's pods as the proxy checks get them: how many run a proxy, and whole the ones
    diagnostics/pods_fetch.py would pick (here all of them: the checks must not care)."""
    proxies = [p for p in pods if runs_proxy(p)]
    return {PROXY_PODS: ProxyCensus(len(proxies), proxies), SKEWED_PROXY_PODS: list(pods)}


def one_cluster(*entries: dict, pods=(), replicas=None) -> dict[str, dict]:
    return {"cluster1": {SYNCZ: PerReplica(replicas or {"istiod-1": list(entries)}),
                         ISTIOD_PODS: [istiod()], **pods_of(pods)}}


# ----------------------------------------------------------------------------------- oracles


def test_state_per_type_matches_istioctl_verbose_table():
    """istioctl-proxy-status-table-verbose-1.27plus.txt renders the CSDS response fixture."""
    [proxy] = parse_syncz(json.loads((FIXTURES / "istioctl-proxy-status-xds-syncz-response.json")
                                     .read_text()))
    header, row = (FIXTURES / "istioctl-proxy-status-table-verbose-1.27plus.txt").read_text() \
        .strip().splitlines()
    columns = header.split()
    values = [v.replace("NOT_SENT", "NOT SENT") for v in
              row.replace("NOT SENT", "NOT_SENT").split()]
    table = dict(zip(columns, values))
    assert (table["NAME"], table["CLUSTER"], table["VERSION"]) == (
        proxy.proxy, proxy.cluster_id, proxy.istio_version)
    assert {t: s.status for t, s in proxy.types.items()} == {
        t: table[t] for t in ("CDS", "ECDS", "EDS", "LDS", "RDS")}


def test_subscribed_types_match_istioctl_table():
    """`5 (CDS,LDS,EDS,RDS,ECDS)` in the 1.27+ table: every listed type is one the proxy
    subscribed to; types absent from the response are not counted (IGNORED)."""
    [proxy] = parse_syncz(json.loads((FIXTURES / "istioctl-proxy-status-xds-syncz-response.json")
                                     .read_text()))
    line = next(line for line in (FIXTURES / "istioctl-proxy-status-table-1.27plus.txt")
                .read_text().splitlines() if line.startswith("proxy1"))
    count, listed = line.split()[-2], line.split()[-1].strip("()").split(",")
    assert int(count) == len(proxy.types) and set(listed) == set(proxy.types)


def test_single_namespace_yaml_fixture_reads_the_same():
    import yaml
    body = yaml.safe_load((FIXTURES / "istioctl-proxy-status-single-namespace.yaml").read_text())
    [proxy] = parse_syncz(body)
    assert proxy.types["CDS"].status == STALE and proxy.types["RDS"].status == NOT_SENT


def test_push_time_from_sent_time_or_nonce():
    [p] = parse_syncz([entry("a.sample", stale=(CDS,))])
    assert p.types["CDS"].sent_at == NOW - timedelta(minutes=17)
    old_style = [{"cluster_id": "c", "proxy": "a.ns", "cluster_sent": nonce(NOW, 3),
                  "cluster_acked": nonce(NOW - timedelta(hours=1))}]
    [p] = parse_syncz(old_style)
    assert p.types["CDS"].status == STALE and p.types["CDS"].sent_at == NOW.replace(microsecond=0)
    [p] = parse_syncz([entry("a.sample", unsent=(RDS,))])
    assert p.types["RDS"].status == NOT_SENT and p.types["RDS"].sent_at is None


# ----------------------------------------------------------------------------------- sync state


def test_in_sync_mesh_has_no_finding():
    steps = run("proxy-sync", one_cluster(entry("a.sample"), entry("b.sample")))
    assert ids(steps) == [] and steps[0].status == "pass"
    assert "2 proxies of cluster1: 2 SYNCED" in steps[0].evidence[0]


def test_stale_past_the_grace_period_is_a_finding_with_types_and_age():
    steps = run("proxy-sync", one_cluster(entry("a.sample", stale=(CDS, EDS)), entry("b.sample")))
    assert ids(steps) == [("proxy-stale", "cluster1")]
    f = steps[0].findings[0]
    assert f.params["types"] == "CDS, EDS" and f.params["since"].startswith("17m ago")
    assert f.params["pod"] == "a" and f.params["namespace"] == "sample"
    assert any("STALE CDS,EDS (17m)" in line for line in steps[0].evidence)


def test_a_push_still_in_flight_is_not_stale():
    steps = run("proxy-sync", one_cluster(entry("a.sample", stale=(CDS,),
                                                sent_at=NOW - timedelta(seconds=3))))
    assert ids(steps) == []
    assert any("in flight" in line for line in steps[0].evidence)


def test_rejected_push_is_an_error_state_with_the_error():
    steps = run("proxy-sync", one_cluster(entry("a.sample", error={LDS: "rejected 0.0.0.0_80"})))
    assert ids(steps) == [("proxy-stale", "cluster1")]
    assert steps[0].findings[0].params["error"] == "rejected 0.0.0.0_80"
    assert any("ERROR LDS" in line for line in steps[0].evidence)


def test_not_sent_and_unsubscribed_types_are_not_stale():
    steps = run("proxy-sync", one_cluster(entry("a.sample", unsent=(RDS,)),
                                          entry("gw.istio-system", types=(CDS, LDS, EDS))))
    assert ids(steps) == []
    assert any("NOT SENT RDS" in line for line in steps[0].evidence)
    assert not any("gw.istio-system" in line for line in steps[0].evidence)


def test_remote_proxies_are_reported_in_their_own_cluster():
    mesh = one_cluster(entry("a.sample"), entry("r.sample", cluster="cluster2", stale=(CDS,)))
    mesh["cluster2"] = pods_of([])
    steps = run("proxy-sync", mesh)
    assert ids(steps) == [("proxy-stale", "cluster2")]
    remote = next(s for s in steps if s.cluster == "cluster2")
    assert "istiod istiod-1 (cluster1, 1.28.1)" in remote.evidence[1]


def test_namespace_narrows_the_proxies():
    steps = run("proxy-sync", one_cluster(entry("a.sample"), entry("b.shop", stale=(CDS,))),
                args={"namespace": "sample"})
    assert ids(steps) == []


def test_many_offenders_are_capped_in_table_and_findings():
    entries = [entry(f"p{i:02d}.sample", stale=(CDS,)) for i in range(25)]
    steps = run("proxy-sync", one_cluster(*entries))
    assert len(steps[0].findings) == 10
    assert "15 more stale proxies" in steps[0].findings[-1].evidence[-1]
    assert steps[0].evidence[-1].strip().startswith("… 5 more")
    assert sum(1 for line in steps[0].evidence if ".sample" in line) == 20


def test_unreadable_syncz_is_incomplete_never_healthy():
    mesh = {"cluster1": {SYNCZ: Fact(missing=Unavailable("cluster1", "syncz", "timed out")),
                         ISTIOD_PODS: [istiod()]}}
    steps = run("proxy-sync", mesh)
    assert steps[0].incomplete and steps[0].status == "error" and ids(steps) == []


# ----------------------------------------------------------------------------------- connected


def test_a_running_sidecar_no_istiod_lists_is_disconnected():
    mesh = one_cluster(entry("a-1.sample"), pods=[sidecar_pod("a-1"), sidecar_pod("b-1")])
    steps = run("proxy-connected", mesh)
    assert ids(steps) == [("proxy-disconnected", "cluster1")]
    assert steps[0].findings[0].params["pod"] == "b-1"


@pytest.mark.parametrize("pod", [
    sidecar_pod("b-1", phase="Pending"),
    sidecar_pod("b-1", deleting=True),
    sidecar_pod("b-1", running=False),
    sidecar_pod("b-1", started=NOW - timedelta(seconds=20)),
    {"kind": "Pod", "metadata": {"name": "b-1", "namespace": "sample"},
     "spec": {"containers": [{"name": "app"}]}, "status": {"phase": "Running"}},
])
def test_sidecars_that_cannot_be_connected_yet_are_not_flagged(pod):
    steps = run("proxy-connected", one_cluster(entry("a-1.sample"), pods=[pod]))
    assert ids(steps) == []


def test_native_sidecar_counts_and_remote_proxies_are_found_in_the_primary():
    mesh = one_cluster(entry("a-1.sample"), entry("r-1.sample", cluster="cluster2"),
                       pods=[sidecar_pod("a-1", native=True)])
    mesh["cluster2"] = pods_of([sidecar_pod("r-1")])  # no istiod: a remote cluster
    assert ids(run("proxy-connected", mesh)) == []
    mesh["cluster2"] = pods_of([sidecar_pod("r-1"), sidecar_pod("r-2")])
    assert ids(run("proxy-connected", mesh)) == [("proxy-disconnected", "cluster2")]


def test_a_replica_not_read_makes_the_answer_incomplete_not_disconnected():
    replicas = PerReplica({"istiod-1": [entry("a-1.sample")]}, {"istiod-2": "timed out"})
    mesh = {"cluster1": {SYNCZ: replicas, ISTIOD_PODS: [istiod(), istiod("istiod-2")],
                         **pods_of([sidecar_pod("a-1"), sidecar_pod("b-1")])}}
    steps = run("proxy-connected", mesh)
    assert ids(steps) == [] and steps[0].incomplete


def test_no_istiod_anywhere_is_a_skip():
    mesh = {"cluster1": {SYNCZ: PerReplica(), ISTIOD_PODS: [], **pods_of([sidecar_pod("a-1")])}}
    steps = run("proxy-connected", mesh)
    assert ids(steps) == [] and steps[0].status == "skip" and steps[0].incomplete


# ----------------------------------------------------------------------------------- versions


@pytest.mark.parametrize("proxy, istiod_version, expected", [
    ("1.26.4", "1.28.1", True), ("1.27.0", "1.28.1", False), ("1.28.1", "1.28.0", False),
    ("1.29.0", "1.27.3", True), ("2.0.0", "1.28.1", True), ("1.28-dev", "1.28.1", False),
    (None, "1.28.1", False), ("1.26.4", None, False),
])
def test_skew_is_more_than_one_minor_apart(proxy, istiod_version, expected):
    assert skewed(proxy, istiod_version) is expected


@pytest.mark.parametrize("image, version", [
    ("docker.io/istio/pilot:1.28.1", "1.28.1"), ("registry:5000/istio/pilot:1.27.2-distroless",
                                                 "1.27.2-distroless"),
    ("gcr.io/istio-release/pilot@sha256:abc", None), ("istio/pilot", None),
    ("registry:5000/istio/pilot", None), (None, None),
])
def test_image_version(image, version):
    assert image_version(image) == version


def test_version_skew_finding_names_the_workload():
    mesh = one_cluster(entry("a-1.sample", version="1.26.4"), entry("b-1.sample"),
                       pods=[sidecar_pod("a-1", version="1.26.4"), sidecar_pod("b-1")])
    steps = run("proxy-versions", mesh)
    assert ids(steps) == [("proxy-version-skew", "cluster1")]
    f = steps[0].findings[0]
    assert (f.params["proxy_version"], f.params["istiod_version"], f.params["workload"]) == (
        "1.26.4", "1.28.1", "deployment/app")
    assert steps[0].status == "warn"


def test_proxy_version_falls_back_to_the_pod_image():
    e = entry("a-1.sample")
    del e["istio_version"]
    mesh = one_cluster(e, pods=[sidecar_pod("a-1", version="1.25.0")])
    assert ids(run("proxy-versions", mesh)) == [("proxy-version-skew", "cluster1")]


def test_unknown_istiod_version_is_not_compared():
    mesh = one_cluster(entry("a-1.sample", version="1.20.0"))
    mesh["cluster1"][ISTIOD_PODS] = [dict(istiod(), spec={"containers": [
        {"name": "discovery", "image": "pilot@sha256:abc"}]})]
    steps = run("proxy-versions", mesh)
    assert ids(steps) == [] and any("not compared" in line for line in steps[0].evidence)
