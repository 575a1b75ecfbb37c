"""Realize a model into concrete nodes, pods, services and endpoints with names and IPs.

This is the single place that decides which pods exist, where they run, which addresses they
get and which Service endpoints they back. Kubernetes objects, istiod's debug views and the
config_dumps are all rendered from this realization, so they can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.meshgen.model import AUTO, ClusterSpec, Mesh, ServicePort, ServiceSpec, WorkloadSpec, version_tuple
from tests.meshgen.naming import at, k8s_suffix, number
from tests.meshgen.control_plane_knobs import mark_istiod_faults, rev_suffix, revision

ISTIO_NS = "istio-system"
NET_LABEL = "topology.istio.io/network"

# Deployment order: a stable slot per Deployment keeps pod IPs stable across scenarios.
_SLOTS = {"istiod": 0, "istiod-1-28-1": 0, "istio-eastwestgateway": 1, "eastwestgateway-istio": 1, "helloworld-v1": 2,
          "helloworld-v2": 3, "sleep": 4}

GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
K8S_EASTWEST = "eastwestgateway"  # the gateway.networking.k8s.io Gateway's name


def eastwest_gateway(spec: ClusterSpec) -> tuple[str, dict[str, str], dict[str, str]]:
    """(Deployment/Service name, labels, selector) of a cluster's east-west gateway: Istio's
    Helm/istioctl one, or what Istio's gateway controller makes for a Gateway API Gateway
    (named `<gateway>-<class>`, labelled with the Gateway's labels and its name and class)."""
    if spec.eastwest.api == "gateway-api":
        labels = {GATEWAY_NAME_LABEL: K8S_EASTWEST,
                  "gateway.networking.k8s.io/gateway-class-name": "istio"}
        return f"{K8S_EASTWEST}-istio", labels, {GATEWAY_NAME_LABEL: K8S_EASTWEST}
    labels = {"app": "istio-eastwestgateway", "istio": "eastwestgateway"}
    return "istio-eastwestgateway", labels, dict(labels)


@dataclass
class Node:
    name: str
    ip: str
    region: str
    zone: str
    index: int


@dataclass
class Pod:
    cluster: str
    namespace: str
    name: str
    ip: str
    node: Node
    deployment: str
    replicaset: str
    template_hash: str
    role: str                       # app | istiod | gateway
    labels: dict[str, str]
    service_account: str
    ready: bool
    app_ready: bool
    container_name: str
    container_port: int | None
    created: datetime
    workload: WorkloadSpec | None = None
    network_meta: str | None = None  # ISTIO_META_NETWORK, None when unset
    istio_version: str = ""

    @property
    def proxy_id(self) -> str:
        return f"{self.name}.{self.namespace}"

    @property
    def proxy_type(self) -> str | None:
        if self.workload is not None and not self.workload.knobs.injected:
            return None  # the webhook did not inject it: no proxy at all
        return {"app": "sidecar", "gateway": "router"}.get(self.role)


@dataclass
class Endpoint:
    address: str
    ready: bool
    pod: Pod | None
    node: Node | None


@dataclass
class Service:
    cluster: str
    spec: ServiceSpec
    cluster_ip: str | None
    endpoints: list[Endpoint]
    lb_ip: str | None = None
    node_ports: dict[str, int] = field(default_factory=dict)
    selectorless: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None

    @property
    def hostname(self) -> str:
        return f"{self.spec.name}.{self.spec.namespace}.svc.cluster.local"


@dataclass
class ClusterWorld:
    spec: ClusterSpec
    nodes: list[Node]
    pods: list[Pod]
    services: list[Service]
    deployments: list[dict]          # {"name","namespace","replicas","template","hash","role"}

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def system_network(self) -> str | None:
        return self.spec.network if self.spec.system_namespace_network_label else None

    def pod_network(self, pod: Pod) -> str:
        """Network istiod assigns to an endpoint: pod label, else system namespace label."""
        return pod.labels.get(NET_LABEL) or self.system_network or ""

    def endpoint_network(self, ep: Endpoint) -> str:
        return self.pod_network(ep.pod) if ep.pod else (self.system_network or "")

    def service(self, namespace: str, name: str) -> Service | None:
        return next((s for s in self.services
                     if s.spec.namespace == namespace and s.spec.name == name), None)

    def pod(self, name: str) -> Pod | None:
        return self._pod_index()[0].get(name)

    def pod_by_proxy_id(self, proxy_id: str) -> Pod | None:
        return self._pod_index()[1].get(proxy_id)

    def _pod_index(self) -> tuple[dict[str, Pod], dict[str, Pod]]:
        """The first pod of each name and of each proxy id. Looked up once per rendered pod,
        so a scan each time made large meshes quadratic; rebuilt if pods were added since."""
        index = self.__dict__.get("_index")
        if index is None or index[2] != len(self.pods):
            by_name: dict[str, Pod] = {}
            by_proxy: dict[str, Pod] = {}
            for p in self.pods:
                by_name.setdefault(p.name, p)
                by_proxy.setdefault(p.proxy_id, p)
            index = self.__dict__["_index"] = (by_name, by_proxy, len(self.pods))
        return index[0], index[1]


@dataclass
class World:
    mesh: Mesh
    clusters: dict[str, ClusterWorld]

    def find_pod(self, cluster: str, proxy_id: str) -> Pod | None:
        cw = self.clusters.get(cluster)  # a proxy may claim an id that names no cluster
        return cw.pod_by_proxy_id(proxy_id) if cw else None


def native_sidecars(version: str) -> bool:
    """ENABLE_NATIVE_SIDECARS defaults to "auto" since 1.27; our nodes run kubelet 1.34."""
    return version_tuple(version) >= (1, 27)


def gateway_network_label(spec: ClusterSpec) -> str | None:
    value = spec.eastwest.network_label
    return spec.network if value == AUTO else value


def gateway_external_ip(spec: ClusterSpec) -> str | None:
    value = spec.eastwest.external_ip
    return spec.gateway_ip if value == AUTO else value


def _template_hash(cluster: str, template: dict) -> str:
    return k8s_suffix(10, cluster, json.dumps(template, sort_keys=True))


NODES_PER_CLUSTER = 2


def _nodes(spec: ClusterSpec) -> list[Node]:
    names = [f"{spec.id}-worker{i + 1 if i else ''}" for i in range(NODES_PER_CLUSTER)]
    return [Node(n, f"172.18.0.{2 + 2 * spec.index + i}", spec.region, spec.zone, i + 1)
            for i, n in enumerate(names)]


#: Replicas a Deployment's slot holds in its node's /24 (.10 + 8 x slot + replica, up to .169):
#: the scenarios' small meshes. A big mesh's further replicas (or slots) take /24s of their own, a node's
#: share of the cluster's pod range counted up as they come (kind gives each node a /24, and
#: kubelet's default of 110 pods a node fits in one; a generated 10,000-pod cluster has two
#: nodes): without them, thousands of replicas got last octets past 255, addresses no API
#: server accepts, or shared another slot's.
SLOT_REPLICAS = 8
#: Hosts of an overflow /24 (.10 to .169), the third octets from OVERFLOW_BASE on.
HOSTS_PER_BLOCK = 160
OVERFLOW_BASE = 16


def _pod_ip(spec: ClusterSpec, node: Node, slot: int, replica: int,
            overflow: dict[int, int]) -> str:
    """The pod's address; `overflow` counts, by node, the replicas past their slot so far."""
    host = 10 + slot * SLOT_REPLICAS + replica
    if replica < SLOT_REPLICAS and host < 10 + HOSTS_PER_BLOCK:
        return f"{spec.pod_prefix}.{node.index}.{host}"
    taken = overflow.get(node.index, 0)
    overflow[node.index] = taken + 1
    block, host = divmod(taken, HOSTS_PER_BLOCK)
    third = OVERFLOW_BASE + node.index + NODES_PER_CLUSTER * block
    if third > 255:
        raise ValueError(f"{taken + 1} replicas on {node.name} do not fit "
                         f"{spec.pod_prefix}.0.0/16")
    return f"{spec.pod_prefix}.{third}.{10 + host}"


def _service_ip(spec: ClusterSpec, namespace: str, name: str) -> str:
    n = number("svc-ip", namespace, name)
    return f"{spec.service_prefix}.{1 + n % 250}.{2 + (n >> 8) % 250}"


def _deployments(spec: ClusterSpec) -> list[dict]:
    """The Deployments of a cluster: control plane, gateway, then the sample workloads."""
    out: list[dict] = []
    if spec.has_istiod:
        out.append({"name": f"istiod{rev_suffix(spec)}", "namespace": ISTIO_NS,
                    "replicas": spec.istiod_replicas, "role": "istiod",
                    "labels": {"app": "istiod", "istio": "pilot",
                               **({"istio.io/rev": revision(spec)} if spec.cp.revision else {})},
                    "service_account": "istiod", "container": "discovery", "port": 15010,
                    "template": {"image": f"docker.io/istio/pilot:{spec.istio_version}"},
                    "created": at(20 + 22 * 60), "ready": True})
    if spec.eastwest.present:
        name, gw_labels, _ = eastwest_gateway(spec)
        labels = {**gw_labels, NET_LABEL: spec.network}
        account = name if spec.eastwest.api == "gateway-api" else \
            "istio-eastwestgateway-service-account"
        out.append({"name": name, "namespace": ISTIO_NS, "replicas": 1,
                    "role": "gateway", "labels": labels,
                    "service_account": account,
                    "container": "istio-proxy", "port": 15443,
                    "template": {"image": f"docker.io/istio/proxyv2:{spec.istio_version}",
                                 "network": spec.network},
                    "created": at(25), "ready": True})
    for w in spec.workloads:
        labels = {"app": w.app}
        if w.version:
            labels["version"] = w.version
        out.append({"name": w.name, "namespace": w.namespace, "replicas": w.replicas,
                    "role": "app", "labels": labels, "service_account": w.service_account,
                    "container": w.app, "port": w.container_port, "workload": w,
                    "template": {"image": w.image, "command": w.command, "labels": labels},
                    "created": at(22 * 60 + 30), "ready": w.ready})
    return out


def _generated_name(spec: ClusterSpec, rs: str, replica: int, taken: set[str]) -> str:
    """`<replicaset>-<5 characters>`, as generateName gives, unique in its namespace: five
    characters collide once in a few million, so a 10,000-pod namespace meets a few; the
    API server refuses a taken name and the ReplicaSet controller asks again."""
    name = f"{rs}-{k8s_suffix(5, spec.id, rs, replica)}"
    attempt = 0
    while name in taken:
        attempt += 1
        name = f"{rs}-{k8s_suffix(5, spec.id, rs, replica, attempt)}"
    taken.add(name)
    return name


def _pods(spec: ClusterSpec, nodes: list[Node], deps: list[dict]) -> list[Pod]:
    pods: list[Pod] = []
    taken: dict[str, set[str]] = {}  # pod names by namespace
    overflow: dict[int, int] = {}  # replicas past their slot, by node
    for dep in deps:
        dep["hash"] = _template_hash(spec.id, dep["template"])
        rs = f"{dep['name']}-{dep['hash']}"
        slot = _SLOTS.get(dep["name"], 5 + len(pods))
        w_spec: WorkloadSpec | None = dep.get("workload")
        refused = bool(w_spec and w_spec.knobs.refused_by_quota)
        for r in range(0 if refused else dep["replicas"]):  # admission let no pod through
            node = nodes[(slot + r) % len(nodes)]
            labels = dict(dep["labels"])
            labels["pod-template-hash"] = dep["hash"]
            w: WorkloadSpec | None = dep.get("workload")
            network_meta = None
            if dep["role"] == "app":
                labels.update(w.knobs.pod_labels)
            if dep["role"] == "app" and w.knobs.injected:
                labels.update({"security.istio.io/tlsMode": "istio",
                               "service.istio.io/canonical-name": w.app,
                               "service.istio.io/canonical-revision": w.version or "latest"})
                if w.network_label:
                    labels[NET_LABEL] = spec.network
                    network_meta = spec.network
            elif dep["role"] == "gateway":
                labels.update({"service.istio.io/canonical-name": dep["name"],
                               "service.istio.io/canonical-revision": "latest",
                               "sidecar.istio.io/inject": "false"})
                network_meta = spec.network
            elif dep["role"] == "istiod":
                labels.update({"istio.io/rev": revision(spec), "sidecar.istio.io/inject": "false"})
            stateful = w is not None and w.knobs.kind == "StatefulSet"
            pods.append(Pod(
                cluster=spec.id, namespace=dep["namespace"],
                name=f"{dep['name']}-{r}" if stateful else _generated_name(
                    spec, rs, r, taken.setdefault(dep["namespace"], set())),
                ip=_pod_ip(spec, node, slot, r, overflow), node=node, deployment=dep["name"],
                replicaset=rs, template_hash=dep["hash"], role=dep["role"], labels=labels,
                service_account=dep["service_account"], ready=dep["ready"],
                app_ready=dep["ready"], container_name=dep["container"],
                container_port=dep["port"], created=dep["created"] + timedelta(seconds=5 + r),
                workload=w, network_meta=network_meta,
                istio_version=(w.knobs.proxy_version if w else None) or spec.istio_version))
    return mark_istiod_faults(spec, pods)


def _select(pods: list[Pod], namespace: str, selector: dict[str, str]) -> list[Pod]:
    return [p for p in pods if p.namespace == namespace
            and all(p.labels.get(k) == v for k, v in selector.items())]


def _system_services(spec: ClusterSpec) -> list[tuple[ServiceSpec, bool]]:
    """istiod / istiod-remote and the east-west gateway Service; bool = selector-less."""
    out: list[tuple[ServiceSpec, bool]] = []
    istiod_ports = [ServicePort("grpc-xds", 15010, 15010), ServicePort("https-dns", 15012, 15012),
                    ServicePort("https-webhook", 443, 15017),
                    ServicePort("http-monitoring", 15014, 15014)]
    if spec.has_istiod:
        selector = {"app": "istiod", "istio": "pilot"} if not spec.cp.revision else \
            {"app": "istiod", "istio.io/rev": revision(spec)}  # as the chart selects per revision
        out.append((ServiceSpec(f"istiod{rev_suffix(spec)}", ISTIO_NS, istiod_ports, selector,
                                labels={"app": "istiod", "istio": "pilot",
                                        "istio.io/rev": revision(spec)}), False))
    else:
        remote_ports = [ServicePort("tcp-istiod", 15012, 15012),
                        ServicePort("tcp-webhook", 443, 15017)]
        out.append((ServiceSpec("istiod", ISTIO_NS, remote_ports, {},
                                labels={"app": "istiod", "istio": "pilot",
                                        "istio.io/rev": "default"}), True))
    if spec.eastwest.present:
        name, labels, selector = eastwest_gateway(spec)
        net = gateway_network_label(spec)
        if net is not None:
            labels[NET_LABEL] = net
        ports = [ServicePort("status-port", 15021, 15021), ServicePort("tls", 15443, 15443),
                 ServicePort("tls-istiod", 15012, 15012), ServicePort("tls-webhook", 15017, 15017)]
        out.append((ServiceSpec(name, ISTIO_NS, ports, selector, type="LoadBalancer",
                                labels=labels), False))
    return out


def _services(spec: ClusterSpec, mesh: Mesh, pods: list[Pod]) -> list[Service]:
    out: list[Service] = []
    for sspec, selectorless in _system_services(spec) + [(s, False) for s in spec.services]:
        if selectorless:  # remote istiod → the primary's east-west gateway
            primary = mesh.cluster(spec.primary) if spec.primary else None
            eps = [Endpoint(primary.gateway_ip, True, None, None)] if primary else []
        else:
            eps = [Endpoint(p.ip, p.ready, p, p.node)
                   for p in _select(pods, sspec.namespace, sspec.selector) if p.ip]
        created = at(20) if sspec.namespace != "sample" else at(22 * 60 + 30)
        svc = Service(spec.id, sspec, None if sspec.headless else
                      _service_ip(spec, sspec.namespace, sspec.name), eps,
                      selectorless=selectorless, labels=dict(sspec.labels), created=created)
        if sspec.type in ("LoadBalancer", "NodePort"):
            svc.node_ports = {p.name: 30000 + number("nodeport", spec.id, sspec.name, p.name) % 2700
                              for p in sspec.ports}
        if sspec.type == "LoadBalancer" and sspec.name == eastwest_gateway(spec)[0]:
            svc.lb_ip = gateway_external_ip(spec)
        out.append(svc)
    return out


def build_world(mesh: Mesh) -> World:
    clusters = {}
    for spec in mesh.clusters:
        nodes = _nodes(spec)
        deps = _deployments(spec)
        pods = _pods(spec, nodes, deps)
        clusters[spec.id] = ClusterWorld(spec, nodes, pods, _services(spec, mesh, pods), deps)
    return World(mesh, clusters)
