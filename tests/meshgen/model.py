"""The mesh model: plain dataclasses describing clusters, workloads and the fault knobs.

A scenario is the healthy default mesh (`default_mesh()`) with one or two knobs turned. Nothing
here computes what Istio does with the model; `topology`, `istiod_view` and `config_dump` do that,
so that every rendered file derives from the same facts and a fault shows wherever it would show
in a live mesh.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

from tests.meshgen.ambient_knobs import AmbientKnobs
from tests.meshgen.control_plane_knobs import ControlPlaneKnobs
from tests.meshgen.log_knobs import LogKnobs
from tests.meshgen.workload_knobs import AppKnobs, WorkloadKnobs

AuthKind = Literal["token", "exec", "client-certificate", "auth-provider-gcp", "auth-provider-oidc"]
Outcome = Literal["ok", "timeout", "refused", "dns", "x509", "unauthorized", "forbidden",
                  "networkpolicy"]

#: Sentinel for "the value a correct install would have" (e.g. the cluster's own network).
AUTO = "<auto>"


def version_tuple(version: str) -> tuple[int, int]:
    """`1.28.1` → (1, 28); what the version-dependent renderers compare against."""
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


@dataclass
class ServicePort:
    name: str
    port: int
    target_port: int
    protocol: str = "TCP"
    app_protocol: str | None = None


@dataclass
class ServiceSpec:
    """A Kubernetes Service as the user declared it in one cluster."""

    name: str
    namespace: str
    ports: list[ServicePort]
    selector: dict[str, str]
    type: str = "ClusterIP"               # ClusterIP | NodePort | LoadBalancer
    headless: bool = False
    traffic_distribution: str | None = None   # e.g. "PreferClose"
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkloadSpec:
    """A Deployment (and the ReplicaSet/Pods it owns) in the sample namespace."""

    name: str
    app: str
    version: str | None
    image: str
    container_port: int
    service_account: str
    namespace: str = "sample"
    replicas: int = 1
    ready: bool = True            # False: app container crash-loops, pod not Ready
    network_label: bool = True    # pod label topology.istio.io/network + ISTIO_META_NETWORK
    command: list[str] | None = None
    knobs: WorkloadKnobs = field(default_factory=WorkloadKnobs)  # check / proxy-status faults


@dataclass
class DestinationRuleSpec:
    name: str
    namespace: str
    host: str
    outlier_detection: dict | None = None


@dataclass
class RemoteSecretSpec:
    """The `istio/multiCluster=true` Secret a control plane holds for one peer cluster."""

    present: bool = True
    key: str | None = None            # data key; None → the peer's cluster id (correct)
    server: str | None = None         # kubeconfig server; None → the peer's API server
    auth: AuthKind = "token"
    outcome: Outcome = "ok"           # what happens when istiod talks to the peer's API server


@dataclass
class EastWestGatewaySpec:
    present: bool = True
    external_ip: str | None = AUTO     # None → LoadBalancer pending (no status.loadBalancer.ingress)
    network_label: str | None = AUTO   # AUTO → cluster network; None → absent; other → wrong value
    # "istio": istioctl's/Helm's istio-eastwestgateway plus an Istio Gateway for 15443;
    # "gateway-api": a gateway.networking.k8s.io Gateway `eastwestgateway` (class istio) whose
    # Deployment and Service `eastwestgateway-istio` Istio's gateway controller creates
    # (manifests/charts/istio-control/istio-discovery/files/kube-gateway.yaml)
    api: str = "istio"
    auto_passthrough: bool = True      # gateway-api: the listener's listener-protocol option


@dataclass
class ClusterSpec:
    """One Kubernetes cluster and its Istio install."""

    id: str
    index: int                         # 1, 2, … drives IP ranges and node names
    network: str
    region: str
    zone: str
    api_server: str                    # host:port as seen from other clusters
    gateway_ip: str
    istio_version: str = "1.28.1"
    istiod_replicas: int = 1
    role: Literal["primary", "remote"] = "primary"
    primary: str | None = None         # remote only: the cluster whose istiod serves this one
    local_istiod: bool = False         # remote only (fault): in-cluster istiod, no istiod-remote
    root_ca: str = "mesh-root"         # seed name of the root CA; differing names → mismatch
    root_not_after: datetime = datetime(2036, 1, 3, tzinfo=timezone.utc)
    # False: istiod has not (yet) written istio-ca-root-cert into its own namespace; the root is
    # then known from the caBundle istiod patched into its injection webhook
    root_configmap: bool = True
    trust_domain: str = "cluster.local"
    system_namespace_network_label: bool = True
    eastwest: EastWestGatewaySpec = field(default_factory=EastWestGatewaySpec)
    cross_network_gateway: bool = True
    remote_secrets: dict[str, RemoteSecretSpec] = field(default_factory=dict)
    workloads: list[WorkloadSpec] = field(default_factory=list)
    services: list[ServiceSpec] = field(default_factory=list)
    destination_rules: list[DestinationRuleSpec] = field(default_factory=list)
    retries_off_for: list[str] = field(default_factory=list)  # VirtualService with attempts: 0
    istiod_egress_policy: bool = False  # NetworkPolicy restricting istiod egress (own API only)
    access_log: bool = False            # meshConfig.accessLogFile=/dev/stdout
    # meshConfig.discoverySelectors (matchLabels) of this cluster's istiod: it reads only the
    # namespaces, in every cluster it syncs, whose labels match
    discovery_selector: dict[str, str] | None = None
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # extra labels
    apps: AppKnobs = field(default_factory=AppKnobs)  # PeerAuthentications, extra namespaces
    cp: ControlPlaneKnobs = field(default_factory=ControlPlaneKnobs)  # control-plane faults
    logs: LogKnobs = field(default_factory=LogKnobs)  # istiod log framing, debug refusals
    ambient: AmbientKnobs = field(default_factory=AmbientKnobs)  # ztunnel, waypoints, ...

    @property
    def has_istiod(self) -> bool:
        return self.role == "primary" or self.local_istiod

    @property
    def pod_prefix(self) -> str:
        return f"10.{10 * self.index}"

    @property
    def service_prefix(self) -> str:
        return f"10.{95 + self.index}"

    @property
    def api_host(self) -> str:
        return self.api_server.split(":")[0]

    def workload(self, name: str) -> WorkloadSpec:
        return next(w for w in self.workloads if w.name == name)

    def service(self, name: str, namespace: str = "sample") -> ServiceSpec:
        return next(s for s in self.services if s.name == name and s.namespace == namespace)


@dataclass
class Mesh:
    """The whole mesh: clusters plus mesh-wide knobs."""

    clusters: list[ClusterSpec]
    mesh_id: str = "mesh1"
    seed: str = "meshbot"
    captured_at: str = "2026-11-20T09:00:00Z"
    # (client cluster, target cluster): connections from the client's sidecars to the target's
    # east-west gateway fail (firewall between networks).
    blocked_paths: list[tuple[str, str]] = field(default_factory=list)
    proxy_admin: bool = False          # also write Envoy admin clusters.json for client pods
    # Deployments whose sidecars get a config_dump file (None: every sidecar, as istiod would
    # answer for any). Large synthetic meshes name only the clients meshbot asks about: each
    # dump lists every endpoint, so dumping every pod grows with the square of the pods.
    config_dumps_for: tuple[str, ...] | None = None
    # The clusters captured (None: all): a snapshot taken through one kubeconfig context sees
    # one cluster of a multicluster mesh, while the others still name it and are named by it.
    view: tuple[str, ...] | None = None
    # snapshot.yaml `id_origins`: a folder named by an operator's override ("config file"), or
    # one whose id the capture could not learn (None).
    id_origins: dict[str, str | None] = field(default_factory=dict)
    # Kinds left out of the capture (snapshot.yaml `kinds` then lacks them): a capture by an
    # identity whose RBAC does not cover them, e.g. ("replicasets.apps",).
    uncaptured: tuple[str, ...] = ()
    # Kinds the capturing install was refused by design (snapshot.yaml `withheld`, with the
    # API server's 403 message): ("secrets",) is a capture by the install without Secret reads
    # (deploy/overlays/no-secrets); replay answers 403 for them as that cluster did.
    withheld: tuple[str, ...] = ()
    # Write resources as JSON `kind: List` files and debug bodies one entry per line (both by
    # json's C encoder): large synthetic meshes, where YAML's pure-Python representer and
    # indented JSON would take most of the generation time. Readers accept either.
    compact_files: bool = False

    def cluster(self, cid: str) -> ClusterSpec:
        return next(c for c in self.clusters if c.id == cid)

    def copy(self) -> "Mesh":
        return copy.deepcopy(self)


def helloworld_service() -> ServiceSpec:
    return ServiceSpec("helloworld", "sample", [ServicePort("http", 5000, 5000)],
                       {"app": "helloworld"}, labels={"app": "helloworld", "service": "helloworld"})


def sleep_service() -> ServiceSpec:
    return ServiceSpec("sleep", "sample", [ServicePort("http", 80, 80)], {"app": "sleep"},
                       labels={"app": "sleep", "service": "sleep"})


def helloworld(version: str) -> WorkloadSpec:
    return WorkloadSpec(f"helloworld-{version}", "helloworld", version,
                        f"docker.io/istio/examples-helloworld-{version}:1.0", 5000, "default")


def sleep() -> WorkloadSpec:
    return WorkloadSpec("sleep", "sleep", None, "curlimages/curl", 80, "sleep",
                        command=["/bin/sleep", "infinity"])


def default_mesh() -> Mesh:
    """Istio's multi-primary, multi-network example: two clusters, helloworld v1/v2, sleep."""
    c1 = ClusterSpec("cluster1", 1, "network1", "us-east1", "us-east1-b", "172.18.0.2:6443",
                     "34.120.10.20")
    c2 = ClusterSpec("cluster2", 2, "network2", "us-west1", "us-west1-a", "172.18.0.3:6443",
                     "35.190.20.30")
    c1.workloads = [helloworld("v1"), sleep()]
    c2.workloads = [helloworld("v2"), sleep()]
    for c in (c1, c2):
        c.services = [helloworld_service(), sleep_service()]
    c1.remote_secrets = {"cluster2": RemoteSecretSpec()}
    c2.remote_secrets = {"cluster1": RemoteSecretSpec()}
    return Mesh([c1, c2])


def primary_remote_mesh() -> Mesh:
    """Istio's primary-remote, multi-network example: cluster2 is served by cluster1's istiod."""
    mesh = default_mesh()
    c2 = mesh.cluster("cluster2")
    c2.role = "remote"
    c2.primary = "cluster1"
    c2.remote_secrets = {}
    return mesh
