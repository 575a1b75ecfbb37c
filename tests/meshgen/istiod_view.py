"""What each istiod knows, computed the way istiod computes it.

A control plane reads its own cluster plus every cluster its remote secrets let it reach
(`/debug/clusterz`); endpoints and east-west gateways come only from clusters it actually syncs
(`/debug/endpointShardz`, `/debug/networkz`); proxies connect to the istiod their install points at
and are spread across replicas (`/debug/syncz`). Field names and shapes follow
docs/istio-surface.md §1.3 for the istiod version of each cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.meshgen.model import ClusterSpec, version_tuple
from tests.meshgen.naming import at
from tests.meshgen.remote_secrets import SecretResult, secret_results
from tests.meshgen.topology import NET_LABEL, ClusterWorld, Endpoint, Pod, Service, World
from tests.meshgen.workload_knobs import connects
from tests.meshgen.control_plane_knobs import cluster_id, proxy_cluster_id

PUSH_TIME = at(22 * 60 + 31)   # 2026-11-20T08:31:00Z: the sample pods connected


@dataclass
class ControlPlane:
    """One cluster's istiod: the clusters it reads, its replicas and the proxies on each."""

    world: ClusterWorld
    replicas: list[Pod]
    secrets: list[SecretResult]
    registries: list[tuple[str, ClusterWorld, str]]   # (cluster id, world, visibility)
    proxies: dict[str, list[Pod]] = field(default_factory=dict)   # replica name → proxies
    rejected_proxies: list[tuple[Pod, str]] = field(default_factory=list)
    claims: dict[str, str] = field(default_factory=dict)  # proxy id → the cluster id it claims
    mesh_id: str = "mesh1"
    # (pod's cluster, proxy id) → the replica it is connected to: a lookup per pod must not
    # scan every replica's proxies (that made generating a large mesh quadratic in pods)
    replica_of: dict[tuple[str, str], Pod] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return cluster_id(self.spec)

    @property
    def spec(self) -> ClusterSpec:
        return self.world.spec

    @property
    def version(self) -> tuple[int, int]:
        return version_tuple(self.spec.istio_version)

    def knows_cluster(self, cid: str) -> bool:
        return cid == self.id or any(s.key == cid and s.status == "synced" for s in self.secrets)


@dataclass
class IstioEndpoint:
    """One entry of an endpoint shard (model.IstioEndpoint): one address × one service port."""

    address: str
    service_port_name: str
    endpoint_port: int
    cluster: str                  # cluster id as registered (the shard key)
    network: str
    region: str
    zone: str
    node_name: str
    labels: dict[str, str]
    service_account: str
    tls_mode: str
    namespace: str
    workload: str
    canonical: tuple[str, str]    # canonical service name, revision
    healthy: bool

    @property
    def locality_label(self) -> str:
        return f"{self.region}/{self.zone}/" if self.region or self.zone else ""


def control_planes(world: World) -> dict[str, ControlPlane]:
    """One control plane per cluster that runs istiod, with what it syncs and who connects."""
    cps: dict[str, ControlPlane] = {}
    for cid, cw in world.clusters.items():
        if not cw.spec.has_istiod:
            continue
        secrets = secret_results(world, cw)
        home = world.clusters[cw.spec.cp.external_for] if cw.spec.cp.external_for else cw
        registries = [(cluster_id(cw.spec), home, "full")]
        for s in secrets:
            if s.visibility != "none":
                registries.append((s.key, world.clusters[s.peer], s.visibility))
        replicas = [p for p in cw.pods if p.role == "istiod" and p.ready]
        if not replicas:
            continue  # no replica serves: no debug endpoints, no connected proxies
        cps[cid] = ControlPlane(cw, replicas, secrets, registries, mesh_id=world.mesh.mesh_id)
    _assign_proxies(world, cps)
    return cps


def _assign_proxies(world: World, cps: dict[str, ControlPlane]) -> None:
    """Proxies connect to their cluster's istiod, or (remote clusters) to the primary's."""
    wanted: dict[str, list[Pod]] = {cid: [] for cid in cps}
    for cid, cw in world.clusters.items():
        target = cid if cw.spec.has_istiod else cw.spec.primary
        if target not in cps or cw.spec.cp.external_for:
            continue
        for pod in cw.pods:
            if pod.proxy_type and connects(pod):
                wanted[target].append(pod)
    for cid, cp in cps.items():
        cp.proxies = {r.name: [] for r in cp.replicas}
        accepted = []
        for pod in sorted(wanted[cid], key=lambda p: (p.cluster != cid, p.cluster, p.proxy_id)):
            claimed = cp.claims[pod.proxy_id] = proxy_cluster_id(world.mesh.cluster(pod.cluster))
            if cp.knows_cluster(claimed):
                accepted.append(pod)
            else:
                cp.rejected_proxies.append((pod, _auth_error(cp, claimed)))
        for i, pod in enumerate(accepted):
            replica = cp.replicas[i % len(cp.replicas)]
            cp.proxies[replica.name].append(pod)
            cp.replica_of[(pod.cluster, pod.proxy_id)] = replica


def _auth_error(cp: ControlPlane, cluster: str) -> str:
    remotes = [s.key for s in cp.secrets if s.status in ("synced", "timeout")]
    if any(s.key == cluster for s in cp.secrets if s.status == "timeout"):
        inner = (f'failed to validate the JWT from cluster "{cluster}": '
                 "the server has asked for the client to provide credentials")
    else:
        inner = (f'client claims to be in cluster "{cluster}", but we only know about local '
                 f'cluster "{cp.id}" and remote clusters [{" ".join(remotes)}]')
    return ("Authenticator ClientCertAuthenticator: no verified chain is found; "
            f"Authenticator KubeJWTAuthenticator: {inner}")


def connected_to(cps: dict[str, ControlPlane], pod: Pod) -> tuple[ControlPlane, Pod] | None:
    for cp in cps.values():
        replica = cp.replica_of.get((pod.cluster, pod.proxy_id))
        if replica is not None:
            return cp, replica
    return None


# --------------------------------------------------------------------------------------------
# Services and endpoints as one control plane sees them


@dataclass
class MergedService:
    hostname: str
    name: str
    namespace: str
    primary: Service                       # the first registry's Service (its ports win)
    per_cluster: list[tuple[str, ClusterWorld, Service]]


def discovers(cp: ControlPlane, cw: ClusterWorld, namespace: str) -> bool:
    """meshConfig.discoverySelectors: with selectors set, istiod reads only matching namespaces
    (their labels in the cluster the namespace lives in); the system namespace always counts."""
    selector = cp.spec.discovery_selector
    if not selector or namespace == "istio-system":
        return True
    labels = cw.spec.namespace_labels.get(namespace, {})
    return all(labels.get(k) == v for k, v in selector.items())


def merged_services(cp: ControlPlane) -> list[MergedService]:
    """Services by hostname across the registries istiod reads; its own cluster comes first."""
    by_host: dict[str, MergedService] = {}
    for key, cw, _vis in cp.registries:
        for svc in cw.services:
            if not discovers(cp, cw, svc.spec.namespace):
                continue
            m = by_host.get(svc.hostname)
            if m is None:
                m = by_host[svc.hostname] = MergedService(svc.hostname, svc.spec.name,
                                                          svc.spec.namespace, svc, [])
            m.per_cluster.append((key, cw, svc))
    return [by_host[h] for h in sorted(by_host)]


def spiffe(trust_domain: str, namespace: str, sa: str) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{sa}"


def istio_endpoints(cp: ControlPlane, key: str, cw: ClusterWorld,
                    svc: Service) -> list[IstioEndpoint]:
    """Endpoint shard entries of one Service in one registry, in EndpointSlice order."""
    out = []
    for ep in svc.endpoints:
        for port in svc.spec.ports:
            out.append(_istio_endpoint(cp, key, cw, ep, port.name, port.target_port))
    return out


def _istio_endpoint(cp: ControlPlane, key: str, cw: ClusterWorld, ep: Endpoint,
                    port_name: str, target_port: int) -> IstioEndpoint:
    pod = ep.pod
    network = cw.endpoint_network(ep)
    labels: dict[str, str] = {}
    region = zone = node_name = ""
    if pod:
        labels = {k: v for k, v in pod.labels.items() if k != "pod-template-hash"}
        region, zone, node_name = pod.node.region, pod.node.zone, pod.node.name
        labels.update({"topology.istio.io/cluster": key, "topology.kubernetes.io/region": region,
                       "topology.kubernetes.io/zone": zone, "kubernetes.io/hostname": node_name})
        if network:
            labels[NET_LABEL] = network
    tls = "istio" if pod and pod.labels.get("security.istio.io/tlsMode") == "istio" else "disabled"
    canonical = (pod.labels.get("service.istio.io/canonical-name", pod.deployment),
                 pod.labels.get("service.istio.io/canonical-revision", "latest")) if pod else ("", "")
    return IstioEndpoint(
        address=ep.address, service_port_name=port_name, endpoint_port=target_port, cluster=key,
        network=network, region=region, zone=zone, node_name=node_name, labels=labels,
        service_account=spiffe(cp.spec.trust_domain, pod.namespace, pod.service_account) if pod else "",
        tls_mode=tls, namespace=pod.namespace if pod else "", workload=pod.deployment if pod else "",
        canonical=canonical, healthy=ep.ready)


@dataclass
class NetworkGateway:
    network: str
    cluster: str
    addr: str
    port: int = 15443


def network_gateways(cp: ControlPlane) -> list[NetworkGateway]:
    """Gateways from labelled Services with an address, in every cluster this istiod reads."""
    out = []
    for key, cw, _vis in cp.registries:
        for svc in cw.services:
            net = svc.labels.get(NET_LABEL)
            if net and svc.lb_ip:
                out.append(NetworkGateway(net, key, svc.lb_ip))
    return sorted(out, key=lambda g: (g.network, g.cluster, g.addr))
