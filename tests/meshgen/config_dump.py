"""istiod's /debug/config_dump?proxyID=<pod>.<ns>&include_eds for one sidecar.

The endpoints follow istiod's EDS pipeline for sidecars (docs/istio-surface.md §4.5 and §6):
endpoints from every synced cluster, unhealthy ones dropped, split-horizon by network (same or
empty network → pod IP; other network with a known gateway and mTLS → the gateway, weights
aggregated; no gateway known → the raw pod IP), then locality priorities relative to the client
(only with DestinationRule outlierDetection or Service trafficDistribution). The body is protojson
(camelCase), like every istiod debug body that marshals protobuf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.meshgen.istiod_view import (PUSH_TIME, ControlPlane, IstioEndpoint, MergedService,
                                       NetworkGateway, istio_endpoints, merged_services,
                                       network_gateways, spiffe)
from tests.meshgen.model import DestinationRuleSpec, ServicePort
from tests.meshgen.naming import ts
from tests.meshgen.topology import NET_LABEL, Pod, Service

VERSION_INFO = f"{ts(PUSH_TIME)}/9"


@dataclass
class LbEndpoint:
    address: str
    port: int
    weight: int
    healthy: bool | None           # None: not set (gateway endpoints)
    tls_istio: bool
    workload_meta: str
    labels: dict[str, str]         # for failoverPriority matching
    gateway: bool = False


@dataclass
class LocalityGroup:
    region: str
    zone: str
    endpoints: list[LbEndpoint] = field(default_factory=list)
    priority: int = 0


@dataclass
class Assignment:
    """A ClusterLoadAssignment as istiod computed it for one proxy."""

    cluster_name: str
    service: MergedService
    port: ServicePort
    groups: list[LocalityGroup]


def _same_or_empty(a: str, b: str) -> bool:
    return not a or not b or a == b


def _workload_meta(e: IstioEndpoint) -> str:
    rev = "" if e.canonical[1] == "latest" else e.canonical[1]
    return f"{e.workload};{e.namespace};{e.canonical[0]};{rev};{e.cluster}"


def _gateways_for(gws: list[NetworkGateway], network: str, cluster: str) -> list[NetworkGateway]:
    exact = [g for g in gws if g.network == network and g.cluster == cluster]
    return exact or [g for g in gws if g.network == network]


def _supports_unhealthy(cp: ControlPlane, m: MergedService) -> bool:
    return bool(m.primary.spec.traffic_distribution) and cp.version >= (1, 26)


def _port_endpoints(cp: ControlPlane, m: MergedService, port: ServicePort) -> list[IstioEndpoint]:
    vis = {key: v for key, _cw, v in cp.registries}
    out = []
    for key, cw, svc in m.per_cluster:
        if vis.get(key) != "full":
            continue
        out += [e for e in istio_endpoints(cp, key, cw, svc) if e.service_port_name == port.name]
    return out


def assignment(cp: ControlPlane, pod: Pod, m: MergedService, port: ServicePort,
               gws: list[NetworkGateway]) -> Assignment:
    proxy_net = pod.network_meta or ""
    send_unhealthy = _supports_unhealthy(cp, m)
    groups: dict[tuple[str, str], LocalityGroup] = {}
    gw_weights: dict[tuple[str, str], dict[tuple[str, str, int], int]] = {}
    for e in _port_endpoints(cp, m, port):
        if not e.healthy and not send_unhealthy:
            continue
        loc = (e.region, e.zone)
        group = groups.setdefault(loc, LocalityGroup(*loc))
        direct = LbEndpoint(e.address, e.endpoint_port, 1, e.healthy, e.tls_mode == "istio",
                            _workload_meta(e), e.labels)
        if not gws:
            group.endpoints.append(direct)
            continue
        forced = (not proxy_net and e.network and cp.version >= (1, 30))
        targets = _gateways_for(gws, e.network, e.cluster)
        if (_same_or_empty(e.network, proxy_net) and not forced) or not targets:
            group.endpoints.append(direct)
            continue
        if e.tls_mode != "istio" or not e.healthy:
            continue                       # cross-network needs mTLS; unhealthy add no weight
        for g in targets:
            w = gw_weights.setdefault(loc, {})
            w[(g.addr, g.cluster, g.port)] = w.get((g.addr, g.cluster, g.port), 0) + 1
    for loc, weights in gw_weights.items():
        for (addr, cluster, gport), weight in sorted(weights.items()):
            net = next(g.network for g in gws if g.addr == addr and g.cluster == cluster)
            groups[loc].endpoints.append(LbEndpoint(
                addr, gport, weight, None, True, f";;;;{cluster}",
                {"topology.istio.io/cluster": cluster, NET_LABEL: net}, gateway=True))
    ordered = [groups[k] for k in sorted(groups) if groups[k].endpoints]
    name = f"outbound|{port.port}||{m.hostname}"
    a = Assignment(name, m, port, ordered)
    _apply_locality(cp, pod, a)
    return a


def _dr_for(cp: ControlPlane, host: str) -> DestinationRuleSpec | None:
    return next((d for d in cp.spec.destination_rules if d.host == host), None)


def _apply_locality(cp: ControlPlane, pod: Pod, a: Assignment) -> None:
    """Failover priorities relative to the client's locality (§6); none without a trigger."""
    dr = _dr_for(cp, a.service.hostname)
    td = a.service.primary.spec.traffic_distribution if cp.version >= (1, 25) else None
    if dr and dr.outlier_detection:
        for g in a.groups:
            if g.region == pod.node.region and g.zone == pod.node.zone:
                g.priority = 0
            elif g.region == pod.node.region:
                g.priority = 2
            else:
                g.priority = 3
    elif td:
        keys = [NET_LABEL, "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
                "topology.istio.io/subzone"]
        proxy = {NET_LABEL: pod.network_meta or "", "topology.kubernetes.io/region": pod.node.region,
                 "topology.kubernetes.io/zone": pod.node.zone}
        split: list[LocalityGroup] = []
        for g in a.groups:
            by_prio: dict[int, LocalityGroup] = {}
            for ep in g.endpoints:
                prio = 0
                for j, k in enumerate(keys):
                    if proxy.get(k, "") != ep.labels.get(k, ""):
                        prio = len(keys) - j
                        break
                by_prio.setdefault(prio, LocalityGroup(g.region, g.zone, priority=prio)).endpoints.append(ep)
            split += [by_prio[p] for p in sorted(by_prio)]
        a.groups = split
    else:
        return
    ranks = {p: i for i, p in enumerate(sorted({g.priority for g in a.groups}))}
    for g in a.groups:
        g.priority = ranks[g.priority]
    a.groups.sort(key=lambda g: (g.priority, g.region, g.zone))


def assignments(cp: ControlPlane, pod: Pod) -> list[Assignment]:
    gws = network_gateways(cp)
    out = []
    for m in merged_services(cp):
        if m.primary.spec.headless:
            continue
        for port in m.primary.spec.ports:
            out.append(assignment(cp, pod, m, port, gws))
    return out


# --------------------------------------------------------------------------------------------
# protojson rendering


def _lb_endpoint_json(ep: LbEndpoint) -> dict:
    meta: dict = {"istio": {"workload": ep.workload_meta}}
    if ep.tls_istio:
        meta["envoy.transport_socket_match"] = {"tlsMode": "istio"}
    d = {"endpoint": {"address": {"socketAddress": {"address": ep.address, "portValue": ep.port}}},
         "metadata": {"filterMetadata": meta}, "loadBalancingWeight": ep.weight}
    if ep.healthy is not None:
        d["healthStatus"] = "HEALTHY" if ep.healthy else "UNHEALTHY"
    return d


def cla_json(a: Assignment) -> dict:
    d: dict = {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
               "clusterName": a.cluster_name}
    if a.groups:
        d["endpoints"] = []
        for g in a.groups:
            loc = {k: v for k, v in (("region", g.region), ("zone", g.zone)) if v}
            e = {"locality": loc, "lbEndpoints": [_lb_endpoint_json(x) for x in g.endpoints],
                 "loadBalancingWeight": sum(x.weight for x in g.endpoints)}
            if g.priority:
                e["priority"] = g.priority
            d["endpoints"].append(e)
        d["policy"] = {"overprovisioningFactor": 140}
    return d


def _outlier_json(od: dict) -> dict:
    def dur(v: str) -> str:
        if v.endswith("m"):
            return f"{int(v[:-1]) * 60}s"
        return v
    out = {"enforcingConsecutive5xx": 100, "enforcingConsecutiveGatewayFailure": 0,
           "enforcingSuccessRate": 0}
    if "consecutive5xxErrors" in od:
        out["consecutive5xx"] = od["consecutive5xxErrors"]
    if "interval" in od:
        out["interval"] = dur(od["interval"])
    if "baseEjectionTime" in od:
        out["baseEjectionTime"] = dur(od["baseEjectionTime"])
    return out


def _cluster_json(cp: ControlPlane, m: MergedService, port: ServicePort) -> dict:
    name = f"outbound|{port.port}||{m.hostname}"
    sans = sorted({spiffe(cp.spec.trust_domain, pod.namespace, pod.service_account)
                   for _k, _cw, svc in m.per_cluster for ep in svc.endpoints
                   if (pod := ep.pod) is not None
                   and pod.labels.get("security.istio.io/tlsMode") == "istio"})
    tls = {"name": "envoy.transport_sockets.tls", "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "commonTlsContext": {
            "combinedValidationContext": {
                "defaultValidationContext": {"matchSubjectAltNames": [{"exact": s} for s in sans]},
                "validationContextSdsSecretConfig": {"name": "ROOTCA"}},
            "tlsCertificateSdsSecretConfigs": [{"name": "default"}]},
        "sni": f"outbound_.{port.port}_._.{m.hostname}"}}
    d = {
        "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        "name": name, "type": "EDS",
        "edsClusterConfig": {"edsConfig": {"ads": {}, "initialFetchTimeout": "0s",
                                           "resourceApiVersion": "V3"}, "serviceName": name},
        "connectTimeout": "10s", "lbPolicy": "LEAST_REQUEST",
        "metadata": {"filterMetadata": {"istio": {"services": [
            {"host": m.hostname, "name": m.name, "namespace": m.namespace}]}}},
    }
    if sans:   # auto mTLS: mTLS to endpoints labelled tlsMode=istio, plaintext otherwise
        d["transportSocketMatches"] = [
            {"name": "tlsMode-istio", "match": {"tlsMode": "istio"}, "transportSocket": tls},
            {"name": "tlsMode-disabled", "match": {}, "transportSocket": {
                "name": "envoy.transport_sockets.raw_buffer", "typedConfig": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"}}}]
    dr = _dr_for(cp, m.hostname)
    if dr and dr.outlier_detection:
        d["outlierDetection"] = _outlier_json(dr.outlier_detection)
    return d


def _static_like(name: str, kind: str) -> dict:
    d = {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": name,
         "type": kind, "connectTimeout": "10s"}
    if kind == "ORIGINAL_DST":
        d["lbPolicy"] = "CLUSTER_PROVIDED"
    return d


def config_dump(cp: ControlPlane, pod: Pod) -> dict:
    """The whole /debug/config_dump body for one sidecar."""
    return {"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump"},
        {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
         "versionInfo": VERSION_INFO,
         "dynamicActiveClusters": [{"cluster": c} for c in sidecar_clusters(cp, pod)]},
        {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
         "dynamicEndpointConfigs": [{"endpointConfig": cla_json(a)}
                                    for a in assignments(cp, pod)]},
    ]}


def sidecar_cluster_counter(cp: ControlPlane) -> Callable[[Pod], int]:
    """How many CDS clusters `sidecar_clusters` gives a sidecar, without building them: the
    outbound clusters are the same for every sidecar of this istiod, and a pod adds inbound
    ones for each service that selects it here. istiod's ADS log counts them for every
    proxy, so building each one's clusters made large meshes quadratic to generate."""
    services = merged_services(cp)
    outbound = 3 + sum(len(m.primary.spec.ports) for m in services)
    inbound: dict[int, int] = {}   # id(pod) → inbound clusters
    for m in services:
        local: dict[str, Service] = {}   # cluster → its Service (the first registry's)
        for _k, cw, svc in m.per_cluster:
            local.setdefault(cw.id, svc)
        for cid, svc in local.items():
            pods = {id(ep.pod): ep.pod for ep in svc.endpoints if ep.pod is not None}
            for key, pod in pods.items():
                if pod.cluster == cid:
                    inbound[key] = inbound.get(key, 0) + len(svc.spec.ports)
    return lambda pod: outbound + inbound.get(id(pod), 0)


def sidecar_clusters(cp: ControlPlane, pod: Pod) -> list[dict]:
    """The CDS clusters of one sidecar, sorted by name (no endpoints: cheap to count)."""
    clusters = [_static_like("BlackHoleCluster", "STATIC"),
                _static_like("InboundPassthroughCluster", "ORIGINAL_DST"),
                _static_like("PassthroughCluster", "ORIGINAL_DST")]
    for m in merged_services(cp):
        for port in m.primary.spec.ports:
            if m.primary.spec.headless:
                c = _static_like(f"outbound|{port.port}||{m.hostname}", "ORIGINAL_DST")
            else:
                c = _cluster_json(cp, m, port)
            clusters.append(c)
        local = next((svc for _k, cw, svc in m.per_cluster if cw.id == pod.cluster), None)
        if local and any(ep.pod is pod for ep in local.endpoints):
            for port in local.spec.ports:
                clusters.append(_static_like(f"inbound|{port.target_port}||", "ORIGINAL_DST"))
    clusters.sort(key=lambda c: c["name"])
    return clusters
