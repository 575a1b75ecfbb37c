"""The branches of the ambient checks the scenarios do not take.

Objects are built the way the ambient scenarios render them (tests/meshgen/ambient_*.py), then
changed one field at a time; every finding renders its catalog entry strictly.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from diagnostics.facts import Fact, PerReplica, Unavailable
from diagnostics.inputs import (CNI_PODS, ISTIOD_PODS, ISTIO_CONFIGMAPS, IstiodDebug,
                                K8S_GATEWAYS, MESH, NAMESPACES, NODES, Resources, SERVICES, SYNCZ,
                                WAYPOINT_PODS, ZTUNNEL_PODS)
from diagnostics.snapshot import Snapshot
from diagnostics.views.ambient import ambient_clients, is_global
from diagnostics.views.ambient_gateways import judge
from tests.check_support import NAMESPACE_PODS, ids, run_check

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parent / "scenarios"


def _cluster(name: str, scenario: str = "ambient-healthy") -> dict:
    """The objects of one cluster of a rendered scenario, by resource key."""
    return Snapshot.open(ROOT / scenario / "snapshot").clusters[name].objects


def _pods(objs: dict, namespace: str | None = None, label: tuple[str, str] | None = None):
    out = []
    for p in objs["pods"]:
        meta = p["metadata"]
        if namespace and meta.get("namespace") != namespace:
            continue
        if label and (meta.get("labels") or {}).get(label[0]) != label[1]:
            continue
        out.append(copy.deepcopy(p))
    return out


def _empty(inp):
    return PerReplica() if isinstance(inp, IstiodDebug) else []


# --- the ambient east-west gateway, judged as peer istiods judge it ---------------------------


def _eastwest(objs: dict) -> dict:
    gw = next(g for g in objs["gateways.gateway.networking.k8s.io"]
              if g["spec"]["gatewayClassName"] == "istio-east-west")
    return copy.deepcopy(gw)


def test_a_valid_gateway_is_usable():
    objs = _cluster("cluster2")
    judged = judge(_eastwest(objs), "network2", None, "cluster2")
    assert judged.usable and judged.problems == []


@pytest.mark.parametrize("change, problem", [
    (lambda g: g["metadata"]["labels"].pop("topology.istio.io/network"),
     "no topology.istio.io/network label"),
    (lambda g: g["metadata"]["labels"].update({"topology.istio.io/network": "network-2"}),
     "label topology.istio.io/network=network-2, but its cluster is on network2"),
    (lambda g: g["spec"]["listeners"][0].update({"protocol": "TLS"}), "no HBONE listener"),
    (lambda g: g["spec"]["listeners"][0]["tls"].update({"mode": "Passthrough"}),
     "HBONE listener mesh has TLS mode Passthrough, not Terminate"),
    (lambda g: g["status"].pop("addresses"), "no address in status.addresses"),
])
def test_each_thing_a_peer_istiod_needs(change, problem):
    gw = _eastwest(_cluster("cluster2"))
    change(gw)
    judged = judge(gw, "network2", None, "cluster2")
    assert not judged.usable and judged.problems[0].startswith(problem), judged.problems


# --- serviceScopeConfigs -------------------------------------------------------------------


@pytest.mark.parametrize("configs, ns_labels, svc_labels, want", [
    ([], {}, {"istio.io/global": "true"}, False),  # no config: everything is local
    ([{"scope": "GLOBAL"}], {}, {}, True),  # empty selectors select everything
    ([{"scope": "LOCAL", "servicesSelector": {"matchLabels": {"a": "b"}}}], {}, {"a": "b"},
     False),
    ([{"scope": "GLOBAL", "namespaceSelector": {"matchLabels": {"team": "x"}},
       "servicesSelector": {"matchLabels": {"a": "b"}}}], {"team": "y"}, {"a": "b"}, False),
    ([{"scope": "GLOBAL", "namespaceSelector": {"matchLabels": {"team": "x"}}}],
     {"team": "x"}, {}, True),
])
def test_service_scope_as_istiod_matches_it(configs, ns_labels, svc_labels, want):
    svc = {"metadata": {"name": "s", "namespace": "n", "labels": svc_labels}}
    ns = {"metadata": {"name": "n", "labels": ns_labels}}
    assert is_global(svc, ns, configs) is want


def _scope_mesh() -> dict:
    mesh = {}
    for c in ("cluster1", "cluster2"):
        objs = _cluster(c)
        mesh[c] = {SERVICES: objs["services"], NAMESPACES: objs["namespaces"],
                   NAMESPACE_PODS: _pods(objs, "sample"), ISTIO_CONFIGMAPS: objs["configmaps"],
                   ISTIOD_PODS: _pods(objs, "istio-system", ("app", "istiod"))}
    return mesh


def test_scope_falls_back_to_the_mesh_configmap_and_says_so():
    steps = run_check("ambient-service-scope", _scope_mesh(), now=NOW, empty=_empty,
                      args={"service": "helloworld", "namespace": "sample"})
    assert ids(steps) == [] and "from ConfigMap istio" in " ".join(steps[0].evidence)


def test_scope_unreadable_is_incomplete_not_healthy():
    mesh = _scope_mesh()
    for name, c in mesh.items():
        c[ISTIO_CONFIGMAPS] = Fact(missing=Unavailable(name, "configmaps", "forbidden"))
    steps = run_check("ambient-service-scope", mesh, now=NOW, empty=_empty,
                      args={"service": "helloworld", "namespace": "sample"})
    assert steps[0].incomplete and ids(steps) == []


def test_a_waypoint_service_that_is_not_global():
    mesh = _scope_mesh()
    for c in mesh.values():
        for svc in c[SERVICES]:
            if svc["metadata"]["name"] == "helloworld":
                svc["metadata"]["labels"]["istio.io/use-waypoint"] = "waypoint"
        c[SERVICES].append({"kind": "Service", "metadata": {
            "name": "waypoint", "namespace": "sample",
            "labels": {"gateway.istio.io/managed": "istio.io-mesh-controller"}}})
    steps = run_check("ambient-service-scope", mesh, now=NOW, empty=_empty,
                      args={"service": "helloworld", "namespace": "sample"})
    found = [f for s in steps for f in s.findings]
    assert [(f.id, f.params["target"]) for f in found] == [
        ("ambient-service-not-global", "Service sample/waypoint")] * 2


def test_istiod_mesh_and_configmap_that_disagree_are_named():
    mesh = _scope_mesh()
    for c in mesh.values():
        c[MESH] = PerReplica(values={"istiod-x": {"serviceScopeConfigs": []}})
    steps = run_check("ambient-service-scope", mesh, now=NOW, empty=_empty,
                      args={"service": "helloworld", "namespace": "sample"})
    assert ids(steps) == [("ambient-service-not-global", "cluster1"),
                          ("ambient-service-not-global", "cluster2")]
    assert "the mesh ConfigMap says otherwise" in " ".join(steps[0].evidence)


# --- the ambient client ---------------------------------------------------------------------


def test_ambient_clients_from_and_never_infrastructure():
    objs = _cluster("cluster1", "ambient-waypoint-not-ready")
    pods, services = _pods(objs), objs["services"]
    waypoint = next(p for p in pods if "waypoint" in p["metadata"]["name"])
    chosen, _ = ambient_clients(pods, services, service="helloworld", namespace="sample",
                                from_pod=None)
    assert [c.pod["metadata"]["name"] for c in chosen] == \
        [p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("sleep")]
    assert ambient_clients(pods, services, service="helloworld", namespace="sample",
                           from_pod=waypoint["metadata"]["name"]) == ([], "")
    sleep = chosen[0].pod
    del sleep["metadata"]["annotations"]["ambient.istio.io/redirection"]
    none, why = ambient_clients([sleep], services, service="helloworld", namespace="sample",
                                from_pod=sleep["metadata"]["name"])
    assert none == [] and "ztunnel does not capture it" in why


# --- node agents and waypoints in proxy-status ---------------------------------------------


def _agents_mesh(objs: dict) -> dict:
    return {ZTUNNEL_PODS: _pods(objs, label=("app", "ztunnel")),
            CNI_PODS: _pods(objs, label=("k8s-app", "istio-cni-node")),
            NODES: objs["nodes"], ISTIOD_PODS: _pods(objs, "istio-system", ("app", "istiod"))}


def test_a_ready_ztunnel_no_istiod_lists_is_not_connected():
    objs = _cluster("cluster1")
    syncz = json.loads(next((ROOT / "ambient-healthy" / "snapshot" / "clusters" / "cluster1" /
                             "istiod").glob("*/syncz.json")).read_text())
    kept = [e for e in syncz if not e["proxy"].startswith("ztunnel-")]
    mesh = {"cluster1": {**_agents_mesh(objs), SYNCZ: PerReplica(values={"r": kept})}}
    steps = run_check("node-agents", mesh, now=NOW, empty=_empty)
    problems = {f.params["problem"] for s in steps for f in s.findings}
    assert ids(steps) == [("ztunnel-unhealthy", "cluster1")] * 2
    assert problems == {"not connected to istiod (no istiod replica lists it in its syncz)"}


def test_a_node_without_agents_and_an_unreadable_syncz():
    objs = _cluster("cluster1")
    mesh = {"cluster1": _agents_mesh(objs)}
    first = mesh["cluster1"][ZTUNNEL_PODS][0]["spec"]["nodeName"]
    mesh["cluster1"][ZTUNNEL_PODS] = [p for p in mesh["cluster1"][ZTUNNEL_PODS]
                                      if p["spec"]["nodeName"] != first]
    steps = run_check("node-agents", mesh, now=NOW, empty=_empty)
    assert ids(steps) == [("ztunnel-unhealthy", "cluster1")]
    assert steps[0].findings[0].params["ztunnel"] == "none"
    assert "connections not checked" in " ".join(steps[0].evidence)


def test_no_ambient_install_no_step():
    mesh = {"cluster1": {NODES: _cluster("cluster1", "healthy")["nodes"]}}
    assert run_check("node-agents", mesh, now=NOW, empty=_empty) == []


def test_proxy_status_checks_every_waypoint_in_scope():
    objs = _cluster("cluster1", "ambient-waypoint-not-ready")
    mesh = {"cluster1": {K8S_GATEWAYS: objs["gateways.gateway.networking.k8s.io"],
                         WAYPOINT_PODS: _pods(objs, label=("gateway.istio.io/managed",
                                                           "istio.io-mesh-controller"))}}
    steps = run_check("waypoints", mesh, now=NOW, empty=_empty)
    assert ids(steps) == [("waypoint-not-ready", "cluster1")]
    assert run_check("waypoints", mesh, now=NOW, empty=_empty, args={"namespace": "other"}) \
        == []
    programmed = copy.deepcopy(mesh)
    gw = next(g for g in programmed["cluster1"][K8S_GATEWAYS]
              if g["metadata"]["name"] == "waypoint")
    gw["status"]["conditions"][1].update({"status": "False", "reason": "Invalid"})
    steps = run_check("waypoints", programmed, now=NOW, empty=_empty)
    assert steps[0].findings[0].params["problem"].startswith("not Programmed")


def test_resources_are_label_selected_cluster_wide():
    """ztunnel and istio-cni may be installed outside istio-system (GKE: kube-system)."""
    for inp in (ZTUNNEL_PODS, CNI_PODS, WAYPOINT_PODS):
        assert isinstance(inp, Resources) and inp.namespace == "*" and inp.label_selector


def test_ztunnels_state_the_cluster_id_after_sidecars():
    """ztunnel's ISTIO_META_CLUSTER_ID (the ztunnel chart's multiCluster.clusterName) is one
    more claim of the cluster's id, the weakest."""
    from diagnostics.identity import ZTUNNELS, discover
    from diagnostics.inputs import ISTIO_PODS

    objs = _cluster("cluster2")
    facts = {ISTIO_PODS: Fact(_pods(objs, label=("app", "ztunnel")))}
    found = discover(facts)
    assert found.id == "cluster2" and found.claims[0].origin == ZTUNNELS


def test_where_a_namespace_is_ambient_is_told_once_per_diagnosis(monkeypatch):
    """Four checks ask which clusters run a namespace in ambient mode; in a sidecar namespace
    each answer read every pod of every cluster. One answer per diagnosis is shared."""
    from diagnostics.catalog import default_catalog
    from diagnostics.checking import REGISTRY, CheckContext
    from diagnostics.facts import Fact
    from diagnostics.inputs import NAMESPACES, TARGET_ROLE_PODS
    from diagnostics.model import ClusterInfo
    from diagnostics.views import ambient

    asked: list[str] = []
    real = ambient.ambient_in
    monkeypatch.setattr(ambient, "ambient_in",
                        lambda ns, pods, namespace: asked.append(namespace) or real(ns, pods,
                                                                                    namespace))
    objs = {c: _cluster(c) for c in ("cluster1", "cluster2")}
    facts = {**{(c, NAMESPACES): Fact(objs[c]["namespaces"]) for c in objs},
             **{(c, TARGET_ROLE_PODS): Fact(_pods(objs[c], "sample")) for c in objs}}
    shared: dict = {}
    answers = []
    for name in ("dataplane", "network-gateways"):
        ctx = CheckContext(REGISTRY[name], facts, {"namespace": "sample"},
                           [ClusterInfo(c) for c in objs], NOW, default_catalog(), list(objs),
                           shared=shared)
        answers.append(ambient.ambient_clusters(ctx, "sample"))
    assert answers == [["cluster1", "cluster2"]] * 2
    assert asked == ["sample", "sample"]  # once a cluster
