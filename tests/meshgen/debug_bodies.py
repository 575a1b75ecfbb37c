"""Bodies of istiod's /debug endpoints for one replica, shaped per istiod version.

clusterz, networkz, endpointShardz, registryz, syncz, connections and mesh, as
docs/istio-surface.md §1.3 and §8 describe them (e.g. endpointShardz `Address` ≤1.23 vs
`Addresses` ≥1.24; syncz `resources` and networkz `HBONEPort`/`ServiceAccount` ≥1.23).
"""

from __future__ import annotations

from datetime import timedelta

from tests.meshgen.istiod_view import (PUSH_TIME, ControlPlane, IstioEndpoint, istio_endpoints,
                                       merged_services, network_gateways)
from tests.meshgen.control_plane_knobs import istiod_host
from tests.meshgen.naming import hexid, ts, ts_micro, uid
from tests.meshgen.topology import ISTIO_NS, Pod

TYPE_URLS = {
    "cluster": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "listener": "type.googleapis.com/envoy.config.listener.v3.Listener",
    "route": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "endpoint": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
}


def clusterz(cp: ControlPlane) -> list[dict]:
    """Own (config) cluster first, then every cluster created from a secret, with sync status."""
    out = [{"id": cp.id, "secretName": "", "syncStatus": "synced"}]
    for s in cp.secrets:
        if s.status in ("synced", "timeout"):
            out.append({"id": s.key, "secretName": f"{ISTIO_NS}/{s.secret}", "syncStatus": s.status})
    return out


def networkz(cp: ControlPlane) -> list[dict] | None:
    """Known east-west gateways; a nil Go slice (JSON null) when istiod knows none."""
    gws = network_gateways(cp)
    if not gws:
        return None
    out = []
    for g in gws:
        d = {"Network": g.network, "Cluster": g.cluster, "Addr": g.addr, "Port": g.port}
        if cp.version >= (1, 23):
            d.update({"HBONEPort": 0, "ServiceAccount": {"Namespace": "", "Name": ""}})
        out.append(d)
    return out


def endpoint_shard_json(cp: ControlPlane, e: IstioEndpoint) -> dict:
    d = {
        "Labels": e.labels, "ServicePortName": e.service_port_name, "LegacyClusterPortKey": 0,
        "ServiceAccount": e.service_account, "Network": e.network,
        "Locality": {"Label": e.locality_label, "ClusterID": e.cluster},
        "EndpointPort": e.endpoint_port, "LbWeight": 0, "TLSMode": e.tls_mode,
        "Namespace": e.namespace, "WorkloadName": e.workload, "HostName": "", "SubDomain": "",
        "HealthStatus": 1 if e.healthy else 2, "SendUnhealthyEndpoints": False,
        "NodeName": e.node_name,
    }
    if cp.version >= (1, 24):
        d["Addresses"] = [e.address]
    else:
        d["Address"] = e.address
    return d


def endpoint_shardz(cp: ControlPlane) -> dict:
    """hostname → namespace → shards keyed `Kubernetes/<cluster id>`, only from synced clusters."""
    out: dict = {}
    visibility = {key: vis for key, _cw, vis in cp.registries}
    for m in merged_services(cp):
        shards: dict[str, list] = {}
        accounts: dict[str, dict] = {}
        for key, cw, svc in m.per_cluster:
            if visibility.get(key) != "full":
                continue
            eps = istio_endpoints(cp, key, cw, svc)
            if eps:
                shards[f"Kubernetes/{key}"] = [endpoint_shard_json(cp, e) for e in eps]
                accounts.update({e.service_account: {} for e in eps if e.service_account})
        if shards:
            out[m.hostname] = {m.namespace: {"Shards": shards, "ServiceAccounts": accounts}}
    return out


def port_protocol(name: str) -> str:
    """Istio's protocol from a port name prefix; unknown prefixes are sniffed at runtime."""
    prefix = name.split("-")[0].lower()
    return {"http": "HTTP", "http2": "HTTP2", "https": "HTTPS", "grpc": "GRPC", "tls": "TLS",
            "tcp": "TCP", "mongo": "Mongo", "redis": "Redis", "mysql": "MySQL",
            "udp": "UDP"}.get(prefix, "UnsupportedProtocol")


def registryz(cp: ControlPlane) -> list[dict]:
    """Merged services; clusterVIPs show every cluster (even a partly synced one) holding it."""
    out = []
    for m in merged_services(cp):
        spec = m.primary.spec
        vips = {key: [svc.cluster_ip] for key, _cw, svc in m.per_cluster if svc.cluster_ip}
        ext = {key: [svc.lb_ip] for key, _cw, svc in m.per_cluster if svc.lb_ip}
        attrs = {
            "ServiceRegistry": "Kubernetes", "Name": m.name, "Namespace": m.namespace,
            "Labels": m.primary.labels or None, "ExportTo": None,
            "LabelSelectors": spec.selector or None,
            "ClusterExternalAddresses": {"Addresses": ext or None},
            "ClusterExternalPorts": None, "Type": spec.type, "ExternalName": "",
            "NodeLocal": False, "ObjectName": m.name, "PublishNotReadyAddresses": False,
        }
        if cp.version >= (1, 25):
            attrs["TrafficDistribution"] = 1 if spec.traffic_distribution else 0
        out.append({
            "Attributes": attrs,
            "ports": [{"name": p.name, "port": p.port, "protocol": port_protocol(p.name)}
                      for p in spec.ports],
            "creationTime": ts(m.primary.created),
            "hostname": m.hostname,
            "clusterVIPs": {"Addresses": vips or None},
            "defaultAddress": m.primary.cluster_ip or "0.0.0.0",
            "Resolution": 2 if spec.headless else 0,
            "MeshExternal": False,
            "ResourceVersion": "",
        })
    return out


def nonce(cp: ControlPlane, pod: Pod, kind: str) -> str:
    push = f"{ts(PUSH_TIME)}/{7 + len(kind)}"
    u = uid("nonce", cp.id, pod.cluster, pod.proxy_id, kind)
    return push + u


def syncz(cp: ControlPlane, replica: Pod) -> list[dict]:
    """Proxies connected to this replica only; every pushed type acknowledged (in sync)."""
    out = []
    for pod in cp.proxies.get(replica.name, []):
        d = {"cluster_id": cp.claims.get(pod.proxy_id, pod.cluster), "proxy": pod.proxy_id,
             "proxy_type": pod.proxy_type, "istio_version": pod.istio_version}
        resources = {}
        for i, (kind, type_url) in enumerate(TYPE_URLS.items()):
            if pod.proxy_type == "router" and kind == "route":
                continue
            n = nonce(cp, pod, kind)
            d[f"{kind}_sent"] = d[f"{kind}_acked"] = n
            resources[type_url] = {"sent": n, "acked": n,
                                   "sentTime": ts_micro(PUSH_TIME + timedelta(milliseconds=118 + 4 * i))}
        if cp.version >= (1, 23):
            d["resources"] = resources
        out.append(d)
    return out


def connections(cp: ControlPlane, replica: Pod) -> dict:
    """Connected xDS clients of this replica, with the connection ids istiod logs."""
    clients = []
    for i, pod in enumerate(cp.proxies.get(replica.name, [])):
        ip = pod.ip if pod.cluster == cp.world.id else _remote_source_ip(cp)
        clients.append({"connectionId": f"{pod.proxy_id}-{i + 1}",
                        "connectedAt": ts_micro(PUSH_TIME + timedelta(milliseconds=37 * i)),
                        "address": f"{ip}:{40000 + int(hexid(4, pod.proxy_id), 16) % 20000}"})
    return {"totalClients": len(clients), "clients": clients}


def _remote_source_ip(cp: ControlPlane) -> str:
    """Remote proxies reach istiod through the east-west gateway: the gateway pod's address."""
    gw = next((p for p in cp.world.pods if p.role == "gateway"), None)
    return gw.ip if gw else cp.world.nodes[0].ip


def mesh_config(cp: ControlPlane) -> dict:
    """Body of /debug/mesh (protojson MeshConfig, camelCase)."""
    spec = cp.spec
    body = {
        "accessLogEncoding": "TEXT",
        "connectTimeout": "10s",
        "defaultConfig": {
            "binaryPath": "/usr/local/bin/envoy", "concurrency": 2,
            "configPath": "./etc/istio/proxy",
            "discoveryAddress": f"{istiod_host(spec)}:15012", "drainDuration": "45s",
            "meshId": cp.mesh_id, "proxyAdminPort": 15000,
            "serviceCluster": "istio-proxy", "statNameLength": 189,
            "statusPort": 15020, "terminationDrainDuration": "5s",
            "tracing": {"zipkin": {"address": "zipkin.istio-system:9411"}},
        },
        "defaultProviders": {"metrics": ["prometheus"]},
        "dnsRefreshRate": "60s",
        "enableAutoMtls": True,
        "enablePrometheusMerge": True,
        "ingressClass": "istio",
        "ingressControllerMode": "STRICT",
        "ingressService": "istio-ingressgateway",
        "localityLbSetting": {"enabled": True},
        "outboundTrafficPolicy": {"mode": "ALLOW_ANY"},
        "protocolDetectionTimeout": "0s",
        "rootNamespace": "istio-system",
        "trustDomain": spec.trust_domain,
    }
    if spec.access_log:     # protojson leaves empty strings out
        body["accessLogFile"] = "/dev/stdout"
    if spec.discovery_selector:
        body["discoverySelectors"] = [{"matchLabels": dict(spec.discovery_selector)}]
    return body
