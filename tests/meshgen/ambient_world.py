"""What an ambient install adds to a cluster, realized once: ztunnel and istio-cni pods on every
node, the waypoint and the ambient east-west gateway with their pods and addresses, which app
pods are captured, and which east-west gateway each istiod can use for a network.

Objects (`ambient_objects`) and ztunnel's and istiod's views (`ambient_ztunnel`) are rendered
from these, so they cannot disagree. Shapes follow istio/istio: the ztunnel and istio-cni charts
(manifests/charts/ztunnel, manifests/charts/istio-cni), the waypoint and east-west deployments
Istio's gateway controller makes (pilot/pkg/config/kube/gatewaycommon/testdata/deployment/
waypoint.yaml, istio-east-west.yaml) and the network gateway rules of
pilot/pkg/serviceregistry/ambient/networks.go.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.meshgen.ambient_knobs import AUTO, HOSTNAME, IP, PENDING, ambient_namespace
from tests.meshgen.model import ClusterSpec, version_tuple
from tests.meshgen.naming import hexid, k8s_suffix, number, uid
from tests.meshgen.topology import ISTIO_NS, ClusterWorld, Node, Pod, World

ZTUNNEL, CNI = "ztunnel", "istio-cni-node"
WAYPOINT_CLASS, EASTWEST_CLASS = "istio-waypoint", "istio-east-west"
HBONE_PORT = 15008


@dataclass(frozen=True)
class InfraPod:
    """A pod an ambient install runs: ztunnel, istio-cni, a waypoint or the E/W gateway."""

    kind: str  # ztunnel | cni | waypoint | eastwest
    name: str
    namespace: str
    node: Node
    ip: str
    ready: bool
    owner: str  # the DaemonSet or Deployment

    def uid(self, cluster: str) -> str:
        return uid(cluster, "Pod", self.namespace, self.name)


def enabled(cw: ClusterWorld) -> bool:
    return cw.spec.ambient.enabled


def node_agents(cw: ClusterWorld, kind: str) -> list[InfraPod]:
    """One ztunnel (or istio-cni agent) per node; the knobs make some crash-loop."""
    spec = cw.spec
    down = spec.ambient.ztunnel_unready_nodes if kind == ZTUNNEL else spec.ambient.cni_unready_nodes
    out = []
    for node in cw.nodes:
        name = f"{ZTUNNEL if kind == ZTUNNEL else CNI}-{k8s_suffix(5, spec.id, kind, node.name)}"
        ip = f"{spec.pod_prefix}.{node.index}.200" if kind == ZTUNNEL else node.ip
        out.append(InfraPod(kind, name, ISTIO_NS, node, ip, node.index not in down,
                            ZTUNNEL if kind == ZTUNNEL else CNI))
    return out


def ztunnel_on(cw: ClusterWorld, node: Node) -> InfraPod:
    return next(z for z in node_agents(cw, ZTUNNEL) if z.node.name == node.name)


def waypoint_pods(cw: ClusterWorld) -> list[InfraPod]:
    wp = cw.spec.ambient.waypoint
    if wp is None or not wp.present:
        return []
    rs = f"{wp.name}-{k8s_suffix(10, cw.id, 'waypoint', wp.name)}"
    node = cw.nodes[1 % len(cw.nodes)]
    return [InfraPod("waypoint", f"{rs}-{k8s_suffix(5, cw.id, rs)}", wp.namespace, node,
                     f"{cw.spec.pod_prefix}.{node.index}.180", wp.ready, wp.name)]


def eastwest_pods(cw: ClusterWorld) -> list[InfraPod]:
    ew = cw.spec.ambient.eastwest
    if not ew.present or not class_served(cw.spec):
        return []  # no controller for the class: nothing is deployed
    rs = f"{ew.name}-{k8s_suffix(10, cw.id, 'eastwest', ew.name)}"
    node = cw.nodes[0]
    return [InfraPod("eastwest", f"{rs}-{k8s_suffix(5, cw.id, rs)}", ISTIO_NS, node,
                     f"{cw.spec.pod_prefix}.{node.index}.190", True, ew.name)]


def infra_pods(cw: ClusterWorld) -> list[InfraPod]:
    if not enabled(cw):
        return []
    return (node_agents(cw, ZTUNNEL) + node_agents(cw, CNI) + waypoint_pods(cw)
            + eastwest_pods(cw))


def class_served(spec: ClusterSpec) -> bool:
    """Istio registers the istio-east-west GatewayClass only with AMBIENT_ENABLE_MULTI_NETWORK
    (pilot/pkg/config/kube/gatewaycommon/classinfo.go), from 1.27 on."""
    return spec.ambient.multi_network and version_tuple(spec.istio_version) >= (1, 27)


def cluster_ip(spec: ClusterSpec, namespace: str, name: str) -> str:
    n = number("svc-ip", namespace, name)
    return f"{spec.service_prefix}.{1 + n % 250}.{2 + (n >> 8) % 250}"


def eastwest_lb(spec: ClusterSpec) -> str:
    head, last = spec.gateway_ip.rsplit(".", 1)
    return f"{head}.{int(last) + 8}"


def eastwest_hostname(spec: ClusterSpec) -> str:
    return f"a{hexid(15, spec.id, 'elb')}-{number(spec.id) % 10 ** 9}.elb.us-east-1.amazonaws.com"


def eastwest_network(spec: ClusterSpec) -> str | None:
    label = spec.ambient.eastwest.network_label
    return spec.network if label == AUTO else label


def eastwest_address(spec: ClusterSpec) -> tuple[str, str] | None:
    """(type, value) of the gateway's status address: what peers' istiods use, or None."""
    ew = spec.ambient.eastwest
    if not ew.present or not class_served(spec) or ew.address not in (IP, HOSTNAME, PENDING):
        return None
    if ew.address == PENDING:  # the LoadBalancer has no ingress: Istio reports the ClusterIP
        return "IPAddress", cluster_ip(spec, ISTIO_NS, ew.name)
    if ew.address == HOSTNAME:
        return "Hostname", eastwest_hostname(spec)
    return "IPAddress", eastwest_lb(spec)


def usable_gateway(spec: ClusterSpec) -> tuple[str, str] | None:
    """(network, address) when another cluster's istiod accepts this cluster's ambient
    east-west gateway (remoteK8sGatewayToNetworkGateways: network label, class, an address,
    an HBONE listener with TLS mode Terminate)."""
    ew = spec.ambient.eastwest
    network, address = eastwest_network(spec), eastwest_address(spec)
    if not (enabled_spec(spec) and network and address and ew.protocol == "HBONE"
            and ew.tls_mode == "Terminate"):
        return None
    return network, address[1]


def enabled_spec(spec: ClusterSpec) -> bool:
    return spec.ambient.enabled


def captured(cw: ClusterWorld, pod: Pod) -> bool:
    """Whether istio-cni redirected an app pod to ztunnel."""
    k = cw.spec.ambient
    return (pod.role == "app" and ambient_namespace(cw.spec, pod.namespace)
            and pod.deployment not in k.not_captured and pod.node.index not in k.cni_unready_nodes)


def ambient_pods(cw: ClusterWorld) -> list[Pod]:
    return [p for p in cw.pods if p.role == "app" and ambient_namespace(cw.spec, p.namespace)]


def wds_uid(cluster: str, namespace: str, name: str) -> str:
    """The WDS workload uid istiod gives a pod (ambient/helpers.go generatePodUID)."""
    return f"{cluster}//Pod/{namespace}/{name}"


def global_in(spec: ClusterSpec, service: str) -> bool:
    return spec.ambient.enabled and service in spec.ambient.global_services


def gateway_for(world: World, reader: ClusterSpec, network: str) -> tuple[str, str] | None:
    """(cluster, address) of a usable gateway of `network` among the clusters `reader`'s istiod
    reads (its own and those its remote secrets reach)."""
    for spec in world.mesh.clusters:
        if spec.id != reader.id and spec.id not in reader.remote_secrets:
            continue
        gw = usable_gateway(spec)
        if gw and gw[0] == network:
            return spec.id, gw[1]
    return None
