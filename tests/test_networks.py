"""Primary-remote, multi-network and reachability checks on small inline meshes: objects in,
finding ids out, for the branches the generated scenarios do not take."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

import diagnostics.checks  # noqa: F401 - registers the checks
from diagnostics.catalog import default_catalog
from diagnostics.facts import ClientFact, Fact, PerReplica, PodNetworks, Unavailable
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, CLIENT_PROXY_LOGS, ClientConfigDumps,
                                ClientProxyLogs, ClientZtunnelDumps, ClientZtunnelLogs,
                                ISTIOD_PODS, IstiodLogs, IstiodMetrics, ISTIO_CONFIGMAPS,
                                ISTIO_GATEWAYS, ISTIO_PODS, ISTIO_SECRETS, IstiodDebug, NAMESPACES, NETWORKZ,
                                PodNetworksInput, ResourceNames, Resources, RolePods, SERVICES,
                                SYNCZ, TARGET_ENDPOINTSLICES)
from diagnostics.model import Step
from diagnostics.views.mesh import remote_intent, workload_ref
from tests.check_support import NAMESPACE_PODS, ids, run_check

NET = "topology.istio.io/network"
HELLO = "outbound|5000||helloworld.sample.svc.cluster.local"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


# ----------------------------------------------------------------------------------- builders

def meta(name: str, namespace: str | None = None, labels=None, annotations=None, owner=None):
    m: dict[str, Any] = {"name": name, "labels": dict(labels or {})}
    if namespace:
        m["namespace"] = namespace
    if annotations:
        m["annotations"] = dict(annotations)
    if owner:
        m["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return m


def namespace(name: str, network: str | None = None, annotations=None) -> dict:
    return {"kind": "Namespace", "metadata": meta(name, None, {NET: network} if network else {},
                                                  annotations)}


def gateway_service(network: str | None, ip: str | None, kind: str = "LoadBalancer",
                    name: str = "istio-eastwestgateway") -> dict:
    labels = {"app": name, "istio": "eastwestgateway", **({NET: network} if network else {})}
    status = {"loadBalancer": {"ingress": [{"ip": ip}]}} if ip else {"loadBalancer": {}}
    return {"kind": "Service", "metadata": meta(name, "istio-system", labels),
            "spec": {"type": kind, "selector": {"app": name, "istio": "eastwestgateway"},
                     "ports": [{"name": "tls", "port": 15443}]}, "status": status}


def service(name: str = "helloworld", ns: str = "sample", selector=None) -> dict:
    return {"kind": "Service", "metadata": meta(name, ns, {"app": name}),
            "spec": {"type": "ClusterIP", "selector": selector or {"app": name},
                     "ports": [{"name": "http", "port": 5000}]}}


def istiod_service(selector: bool = True) -> dict:
    spec = {"type": "ClusterIP", "ports": [{"name": "tcp-istiod", "port": 15012}]}
    if selector:
        spec["selector"] = {"app": "istiod"}
    return {"kind": "Service", "metadata": meta("istiod", "istio-system", {"app": "istiod"}),
            "spec": spec}


def pod(name: str, ip: str, app: str, network: str | None = None, env_network: str | None = None,
        ns: str = "sample", proxy_config: str | None = None, owner=None) -> dict:
    env = [{"name": "ISTIO_META_CLUSTER_ID", "value": "x"}]
    if env_network:
        env.append({"name": "ISTIO_META_NETWORK", "value": env_network})
    if proxy_config:
        env.append({"name": "PROXY_CONFIG", "value": proxy_config})
    labels = {"app": app, "pod-template-hash": "abc12", "security.istio.io/tlsMode": "istio",
              **({NET: network} if network else {})}
    metadata = meta(name, ns, labels, owner=owner or ("ReplicaSet", f"{app}-abc12"))
    metadata["annotations"] = {"sidecar.istio.io/status": '{"revision":"default"}'}  # injected
    return {"kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": app}, {"name": "istio-proxy", "env": env}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def endpoint_slice(service_name: str, pods: list[dict]) -> dict:
    return {"kind": "EndpointSlice",
            "metadata": meta(f"{service_name}-x", "sample",
                             {"kubernetes.io/service-name": service_name}),
            "endpoints": [{"addresses": [p["status"]["podIP"]], "conditions": {"ready": True},
                           "targetRef": {"kind": "Pod", "name": p["metadata"]["name"]}}
                          for p in pods]}


def cross_network_gateway(selector=None, hosts=("*.local",), port: int = 15443,
                          mode: str = "AUTO_PASSTHROUGH") -> dict:
    return {"kind": "Gateway", "metadata": meta("cross-network-gateway", "istio-system"),
            "spec": {"selector": selector if selector is not None else {"istio": "eastwestgateway"},
                     "servers": [{"port": {"number": port, "name": "tls", "protocol": "TLS"},
                                  "tls": {"mode": mode}, "hosts": list(hosts)}]}}


def injector(values: dict) -> dict:
    return {"kind": "ConfigMap", "metadata": meta("istio-sidecar-injector", "istio-system"),
            "data": {"values": json.dumps(values)}}


def mesh_cm(mesh_yaml: str = "", networks_yaml: str = "networks: {}\n") -> dict:
    return {"kind": "ConfigMap", "metadata": meta("istio", "istio-system"),
            "data": {"mesh": mesh_yaml, "meshNetworks": networks_yaml}}


def eds_dump(endpoints: list[tuple[str, int]]) -> dict:
    return {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
                         "dynamicEndpointConfigs": [{"endpointConfig": {
                             "clusterName": HELLO, "endpoints": [{"lbEndpoints": [
                                 {"endpoint": {"address": {"socketAddress": {
                                     "address": a, "portValue": p}}}, "healthStatus": "HEALTHY"}
                                 for a, p in endpoints]}]}}]}]}


def remote_secret(peer: str) -> dict:
    return {"kind": "Secret", "metadata": meta(f"istio-remote-secret-{peer}", "istio-system",
                                               {"istio/multiCluster": "true"}),
            "data": {peer: "a3ViZWNvbmZpZw=="}}


def networkz(*entries: tuple[str, str, str]) -> PerReplica:
    return PerReplica({"istiod-1": [{"Network": n, "Cluster": c, "Addr": a, "Port": 15443}
                                    for n, c, a in entries] or None})


def syncz(*proxies: tuple[str, str]) -> PerReplica:
    return PerReplica({"istiod-1": [{"cluster_id": c, "proxy": p} for c, p in proxies]})


def two_networks() -> dict[str, dict]:
    """cluster1/network1 and cluster2/network2, each with helloworld, sleep and a gateway."""
    mesh: dict[str, dict] = {}
    for i, (c, net, gw_ip) in enumerate((("cluster1", "network1", "34.120.10.20"),
                                         ("cluster2", "network2", "35.190.20.30")), start=1):
        hello = pod(f"helloworld-v{i}-abc12-xyz", f"10.{i}0.1.26", "helloworld", net, net)
        sleep = pod(f"sleep-abc12-{c}", f"10.{i}0.1.42", "sleep", net, net)
        istiod = {"kind": "Pod", "metadata": meta("istiod-1", "istio-system", {"app": "istiod"}),
                  "status": {"phase": "Running"}}
        gw_pod = {"kind": "Pod", "metadata": meta("gw-1", "istio-system", {
            "app": "istio-eastwestgateway", "istio": "eastwestgateway"})}
        peer_gw = "35.190.20.30" if i == 1 else "34.120.10.20"
        mesh[c] = {
            NAMESPACES: [namespace("istio-system", net), namespace("sample")],
            SERVICES: [service(), gateway_service(net, gw_ip), istiod_service()],
            ISTIO_CONFIGMAPS: [injector({"global": {"network": net}}), mesh_cm()],
            NAMESPACE_PODS: [hello, sleep],
            TARGET_ENDPOINTSLICES: [endpoint_slice("helloworld", [hello])],
            ISTIO_GATEWAYS: [cross_network_gateway()],
            ISTIO_PODS: [istiod, gw_pod],
            ISTIOD_PODS: [istiod],
            ISTIO_SECRETS: [remote_secret("cluster2" if i == 1 else "cluster1")],
            NETWORKZ: networkz(("network1", "cluster1", "34.120.10.20"),
                               ("network2", "cluster2", "35.190.20.30")),
            SYNCZ: syncz((c, f"sleep-abc12-{c}.sample")),
            CLIENT_CONFIG_DUMPS: {sleep["metadata"]["name"]: ClientFact(
                sleep, eds_dump([(hello["status"]["podIP"], 5000), (peer_gw, 15443)]),
                "istiod-1")},
        }
    return mesh


def empty(inp) -> Any:
    if isinstance(inp, Resources):
        return []
    if isinstance(inp, IstiodDebug):
        return PerReplica()
    if isinstance(inp, (ClientConfigDumps, ClientProxyLogs, ClientZtunnelDumps,
                        ClientZtunnelLogs)):
        return {}
    if isinstance(inp, (IstiodLogs, IstiodMetrics)):
        return PerReplica()
    if isinstance(inp, PodNetworksInput):
        return PodNetworks()
    if isinstance(inp, (ResourceNames, RolePods)):
        return []
    raise TypeError(inp)


def run(check: str, mesh: dict[str, dict], focus: list[str] | None = None) -> list[Step]:
    return run_check(check, mesh, now=NOW, empty=empty, focus=focus, render=False,
                     args={"service": "helloworld", "namespace": "sample"})


def render_all(steps: list[Step]) -> None:
    """Every finding renders its catalog entry strictly (all params supplied)."""
    catalog = default_catalog()
    for s in steps:
        for f in s.findings:
            catalog.render(f)


# ----------------------------------------------------------------------------------- networks

def test_healthy_two_networks_give_no_finding():
    mesh = two_networks()
    for check in ("network-gateways", "network-labels"):
        steps = run(check, mesh)
        assert ids(steps) == [] and all(s.status == "pass" for s in steps)


def test_single_network_mesh_needs_no_gateway():
    mesh = two_networks()
    for objs in mesh.values():  # flat network: nothing names a second network, no gateways
        objs[NAMESPACES] = [namespace("istio-system", "net"), namespace("sample")]
        objs[ISTIO_CONFIGMAPS] = [injector({"global": {"network": "net"}})]
        objs[SERVICES] = [service(), istiod_service()]
        objs[NETWORKZ] = PerReplica({"istiod-1": None})
        for p in objs[NAMESPACE_PODS]:
            p["metadata"]["labels"][NET] = "net"
    for check in ("network-gateways", "network-labels"):
        [step] = run(check, mesh)
        assert step.status == "pass" and not step.findings
        assert "one network" in step.evidence[0]


def _gateway_unknown_to_istiod(mesh: dict[str, dict]) -> None:
    """What istiod does when network2's gateway Service is unusable: networkz lacks network2,
    and cluster1's client receives cluster2's raw pod IP instead of the gateway."""
    for objs in mesh.values():
        objs[NETWORKZ] = networkz(("network1", "cluster1", "34.120.10.20"))
    client = mesh["cluster1"][CLIENT_CONFIG_DUMPS]
    (name, fact), = client.items()
    client[name] = ClientFact(fact.pod, eds_dump([("10.10.1.26", 5000), ("10.20.1.26", 5000)]),
                              "istiod-1")


def test_wrong_gateway_label_value():
    mesh = two_networks()
    mesh["cluster2"][SERVICES][1] = gateway_service("network1", "35.190.20.30")
    _gateway_unknown_to_istiod(mesh)
    steps = run("network-gateways", mesh)
    assert ids(steps) == [("eastwest-gateway-network-label", "cluster2")]
    finding = next(f for s in steps for f in s.findings)
    assert finding.params["network"] == "network2"
    render_all(steps)


@pytest.mark.parametrize("kind, ip, pending", [
    ("NodePort", None, False),        # istiod uses node addresses
    ("ClusterIP", None, True),        # no external address at all
    ("LoadBalancer", None, True),     # <pending>
    ("LoadBalancer", "35.190.20.30", False),
])
def test_gateway_address_kinds(kind, ip, pending):
    mesh = two_networks()
    mesh["cluster2"][SERVICES][1] = gateway_service("network2", ip, kind)
    if pending:
        _gateway_unknown_to_istiod(mesh)
    found = ids(run("network-gateways", mesh))
    assert (("eastwest-gateway-pending", "cluster2") in found) is pending


def test_helm_gateway_without_label_is_recognised():
    mesh = two_networks()
    svc = gateway_service(None, "35.190.20.30", name="istio-eastwest")
    svc["metadata"]["labels"]["istio"] = "eastwest"
    svc["spec"]["selector"] = {"app": "istio-eastwest", "istio": "eastwest"}
    mesh["cluster2"][SERVICES][1] = svc
    _gateway_unknown_to_istiod(mesh)
    # recognised by `istio=eastwest`; the istioctl-style Gateway (istio=eastwestgateway) misses it
    assert ids(run("network-gateways", mesh)) == [("cross-network-gateway-missing", "cluster2"),
                                                  ("eastwest-gateway-network-label", "cluster2")]


@pytest.mark.parametrize("gateway", [
    cross_network_gateway(selector={"istio": "ingressgateway"}),   # selects other pods
    cross_network_gateway(hosts=("*.example.com",)),               # does not cover the service
    cross_network_gateway(mode="PASSTHROUGH"),
    cross_network_gateway(port=443),
])
def test_cross_network_gateway_that_does_not_serve(gateway):
    mesh = two_networks()
    mesh["cluster2"][ISTIO_GATEWAYS] = [gateway]
    assert ids(run("network-gateways", mesh)) == [("cross-network-gateway-missing", "cluster2")]


def test_runtime_evidence_outranks_a_reading_of_the_gateway_config():
    """The gateway Service lacks its label and no Gateway opens 15443, yet istiod lists the
    gateway, clients receive it and requests through it are answered: the configuration is
    somewhere meshbot does not read, and the answer says so instead of a false finding."""
    mesh = two_networks()
    mesh["cluster2"][SERVICES][1] = gateway_service(None, "35.190.20.30")
    mesh["cluster2"][ISTIO_GATEWAYS] = []
    sleep = mesh["cluster1"][NAMESPACE_PODS][1]
    line = ('[2026-11-20T08:59:00.000Z] "GET /hello HTTP/1.1" 200 - via_upstream - "-" 0 60 '
            '31 30 "-" "curl/8.5.0" "1" "helloworld:5000" "35.190.20.30:15443" '
            f'{HELLO} 10.10.1.42:41234 10.96.0.10:5000 10.10.1.42:41232 - default\n')
    mesh["cluster1"][CLIENT_PROXY_LOGS] = {sleep["metadata"]["name"]: ClientFact(sleep, line)}
    steps = run("network-gateways", mesh)
    assert ids(steps) == []
    text = "\n".join(e for s in steps for e in s.evidence)
    assert "eastwest-gateway-network-label not reported" in text
    assert "cross-network-gateway-missing not reported" in text
    assert "1 requests answered through 35.190.20.30:15443" in text
    # without the access log, the 15443 finding stands: EDS alone proves no passthrough
    mesh["cluster1"][CLIENT_PROXY_LOGS] = {}
    assert ids(run("network-gateways", mesh)) == [("cross-network-gateway-missing", "cluster2")]


def test_remote_cluster_gateway_config_lives_in_the_primary():
    """A remote's gateways are programmed by the primary's istiod from the primary's config."""
    mesh = two_networks()
    remote = mesh["cluster2"]
    remote[ISTIOD_PODS] = []
    remote[ISTIO_GATEWAYS] = []
    assert ids(run("network-gateways", mesh)) == []
    mesh["cluster1"][ISTIO_GATEWAYS] = []
    remote[ISTIO_GATEWAYS] = [cross_network_gateway()]  # not read by the primary's istiod
    steps = run("network-gateways", mesh)
    assert ids(steps) == [("cross-network-gateway-missing", "cluster1"),
                          ("cross-network-gateway-missing", "cluster2")]
    finding = next(f for s in steps for f in s.findings if f.cluster == "cluster2")
    assert finding.params["context"] == "cluster1"
    render_all(steps)


def test_unreadable_inputs_never_read_as_missing():
    mesh = two_networks()
    mesh["cluster2"][ISTIO_GATEWAYS] = Fact(missing=Unavailable("cluster2", "gw", "forbidden"))
    mesh["cluster2"][SERVICES] = Fact(missing=Unavailable("cluster2", "svc", "timed out"))
    steps = run("network-gateways", mesh)
    assert ids(steps) == []
    assert any(s.incomplete for s in steps if s.cluster == "cluster2")


def test_only_networks_an_examined_client_must_reach_are_checked():
    mesh = two_networks()
    mesh["cluster2"][SERVICES].pop(1)  # network2 has no gateway ...
    assert ids(run("network-gateways", mesh, focus=["cluster2"])) == []  # ... only its own client
    assert ids(run("network-gateways", mesh, focus=["cluster1"])) == [
        ("eastwest-gateway-missing", "cluster2")]


def test_unlabelled_server_pods_and_namespace():
    mesh = two_networks()
    c2 = mesh["cluster2"]
    c2[NAMESPACES] = [namespace("istio-system"), namespace("sample")]
    for p in c2[NAMESPACE_PODS]:
        del p["metadata"]["labels"][NET]
    steps = run("network-labels", mesh, focus=["cluster1"])
    assert ids(steps) == [("pod-network-unset", "cluster2"),
                          ("system-namespace-network-label", "cluster2")]
    finding = next(f for s in steps for f in s.findings if f.id == "pod-network-unset")
    assert finding.params["workload"] == "deployment/helloworld"
    assert finding.params["network"] == "network2"
    render_all(steps)


def test_mesh_networks_from_registry_stands_in_for_the_namespace_label():
    mesh = two_networks()
    mesh["cluster2"][NAMESPACES] = [namespace("istio-system"), namespace("sample")]
    mesh["cluster1"][ISTIO_CONFIGMAPS].append(mesh_cm(
        networks_yaml="networks:\n  network2:\n    endpoints:\n    - fromRegistry: cluster2\n"))
    mesh["cluster1"][ISTIO_CONFIGMAPS].pop(1)
    assert ids(run("network-labels", mesh)) == []


@pytest.mark.parametrize("how", ["env", "proxy_config", "mesh_default", "label"])
def test_client_network_from_any_proxy_source(how):
    mesh = two_networks()
    c1 = mesh["cluster1"]
    name = next(iter(c1[CLIENT_CONFIG_DUMPS]))
    client = pod(name, "10.10.1.42", "sleep",
                 network="network1" if how == "label" else None,
                 env_network="network1" if how == "env" else None,
                 proxy_config="proxyMetadata:\n  ISTIO_META_NETWORK: network1\n"
                 if how == "proxy_config" else None)
    if how == "mesh_default":
        c1[ISTIO_CONFIGMAPS][1] = mesh_cm(
            "defaultConfig:\n  proxyMetadata:\n    ISTIO_META_NETWORK: network1\n")
    c1[CLIENT_CONFIG_DUMPS] = {name: ClientFact(client, eds_dump([]), "istiod-1")}
    assert ids(run("network-labels", mesh)) == []


def test_client_without_any_network():
    mesh = two_networks()
    c1 = mesh["cluster1"]
    name = next(iter(c1[CLIENT_CONFIG_DUMPS]))
    client = pod(name, "10.10.1.42", "sleep")
    c1[CLIENT_CONFIG_DUMPS] = {name: ClientFact(client, eds_dump([("10.20.1.26", 5000)]), "x")}
    steps = run("network-labels", mesh)
    assert ids(steps) == [("pod-network-unset", "cluster1")]
    finding = steps[0].findings[0]
    assert any("a pod IP of network2" in line for line in finding.evidence)


def test_workload_ref_for_other_owners():
    p = pod("db-0", "10.0.0.1", "db", owner=("StatefulSet", "db"))
    assert workload_ref(p) == "statefulset/db"
    bare = pod("x", "10.0.0.2", "x")
    bare["metadata"].pop("ownerReferences")
    assert workload_ref(bare) == "pod/x"


# ------------------------------------------------------------------------------ primary-remote

def primary_remote(local_istiod: bool) -> dict[str, dict]:
    mesh = two_networks()
    remote = mesh["cluster2"]
    remote[NAMESPACES][0]["metadata"]["annotations"] = {
        "topology.istio.io/controlPlaneClusters": "cluster1"}
    remote[ISTIO_SECRETS] = []
    if local_istiod:
        return mesh
    remote[ISTIOD_PODS] = []
    remote[SERVICES][2] = istiod_service(selector=False)
    remote[SYNCZ] = PerReplica()
    mesh["cluster1"][SYNCZ] = syncz(("cluster1", "sleep-abc12-cluster1.sample"),
                                    ("cluster2", "sleep-abc12-cluster2.sample"))
    return mesh


def test_primary_remote_served_by_the_primary_is_healthy():
    assert ids(run("proxy-control-plane", primary_remote(local_istiod=False))) == []


def test_remote_served_by_its_own_istiod():
    steps = run("proxy-control-plane", primary_remote(local_istiod=True))
    assert ids(steps) == [("istiod-remote-missing", "cluster2")]
    finding = steps[1].findings[0]
    assert (finding.params["peer_cluster"], finding.params["gateway_address"],
            finding.params["network"]) == ("cluster1", "34.120.10.20", "network2")
    render_all(steps)


def test_remote_with_unreadable_syncz_is_judged_from_its_services():
    mesh = primary_remote(local_istiod=True)
    mesh["cluster2"][SYNCZ] = Fact(missing=Unavailable("cluster2", "syncz",
                                                       "port-forward refused"))
    mesh["cluster1"][SYNCZ] = syncz(("cluster1", "sleep-abc12-cluster1.sample"))
    steps = run("proxy-control-plane", mesh)
    assert ids(steps) == [("istiod-remote-missing", "cluster2")]
    assert any("unreadable" in line for line in steps[1].evidence)


def test_multi_primary_is_never_a_remote():
    mesh = two_networks()
    assert ids(run("proxy-control-plane", mesh)) == []
    # a stray annotation on a primary that reads its peer itself does not make it a remote
    mesh["cluster2"][NAMESPACES][0]["metadata"]["annotations"] = {
        "topology.istio.io/controlPlaneClusters": "cluster1"}
    assert ids(run("proxy-control-plane", mesh)) == []
    assert ids(run("remote-secrets", mesh)) == []


def test_remote_intent_signs():
    ns = namespace("istio-system", annotations={"topology.istio.io/controlPlaneClusters": "*"})
    mesh = ["c1", "c2"]
    intent = remote_intent("c2", mesh, ns, {}, {"c1": {"c2"}})
    assert intent and intent.primaries == ("c1",)
    own = namespace("istio-system", annotations={"topology.istio.io/controlPlaneClusters": "c2"})
    assert remote_intent("c2", mesh, own, {}, {}) is None  # names itself: a primary
    values = {"istiodRemote": {"enabled": True}, "global": {"remotePilotAddress": "1.2.3.4"}}
    intent = remote_intent("c2", mesh, namespace("istio-system"), values, {})
    assert intent and "istiodRemote.enabled=true" in intent.signs[0]
    assert remote_intent("c2", mesh, namespace("istio-system"), {}, {"c1": {"c2"}}) is None


# -------------------------------------------------------------------------------- reachability

def access(host: str, code: int = 200, flags: str = "-", cluster: str = HELLO) -> str:
    return (f'[2026-11-20T08:55:00.000Z] "GET /hello HTTP/1.1" {code} {flags} via_upstream - "-" '
            f'0 60 3 2 "-" "curl/8" "id" "helloworld.sample:5000" "{host}" {cluster} '
            '- 10.96.0.1:5000 10.10.1.42:4000 - default')


def with_logs(mesh: dict[str, dict], cluster: str, lines: list[str] | None) -> dict[str, dict]:
    [(name, fact)] = mesh[cluster][CLIENT_CONFIG_DUMPS].items()
    text = None if lines is None else "\n".join(lines) + "\n"
    mesh[cluster][CLIENT_PROXY_LOGS] = {name: ClientFact(fact.pod, text) if text is not None
                                        else ClientFact(fact.pod, missing="not captured")}
    return mesh


def test_unreachable_gateway_is_found():
    mesh = with_logs(two_networks(), "cluster1", [access("10.10.1.26:5000"),
                                                  access("35.190.20.30:15443", 503, "UF,URX")])
    steps = run("remote-reachability", mesh, focus=["cluster1"])
    assert ids(steps) == [("remote-endpoints-unreachable", "cluster1")]
    finding = steps[0].findings[0]
    assert (finding.params["endpoint"], finding.params["peer_cluster"], finding.params["port"]) \
        == ("35.190.20.30:15443", "cluster2", 5000)
    render_all(steps)


def test_remote_pod_ip_in_a_flat_network_is_found_too():
    mesh = with_logs(two_networks(), "cluster1", [access("10.20.1.26:5000", 503, "UF")])
    assert ids(run("remote-reachability", mesh, focus=["cluster1"])) == [
        ("remote-endpoints-unreachable", "cluster1")]


def test_intermittent_or_local_failures_are_not_this_finding():
    lines = [access("35.190.20.30:15443", 503, "UF"), access("35.190.20.30:15443"),
             access("10.10.1.26:5000", 503, "UF"),
             access("35.190.20.30:15443", 503, "UF",
                    cluster="outbound|80||other.sample.svc.cluster.local")]
    mesh = with_logs(two_networks(), "cluster1", lines)
    assert ids(run("remote-reachability", mesh, focus=["cluster1"])) == []


@pytest.mark.parametrize("lines", [None, [], ["2026-11-20T08:30:10Z\tinfo\tEnvoy proxy is ready"]])
def test_no_access_log_is_a_skip_never_incomplete(lines):
    mesh = with_logs(two_networks(), "cluster1", lines)
    [step] = run("remote-reachability", mesh, focus=["cluster1"])
    assert step.status == "skip" and not step.incomplete and not step.findings

