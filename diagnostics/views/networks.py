"""Which network each cluster is on, as every source states it (system namespace label,
meshNetworks, injector values, pod labels, the gateway's label, istiod's networkz), in the
order istiod trusts them: the view the multi-network checks judge.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from diagnostics.checking import CheckContext
from diagnostics.facts import PerReplica, PodNetworks
from diagnostics.inputs import (ISTIO_CONFIGMAPS, NAMESPACES, NETWORKZ, SERVICES,
                                TARGET_POD_NETWORKS)
from diagnostics.model import Step
from diagnostics.parse.networkz import NetworkGateway, parse_networkz
from diagnostics.views.mesh import (NETWORK_LABEL, Where, injector_values, install_value,
                                    looks_like_eastwest_gateway, mesh_networks, registry_networks)
from diagnostics.workloads import labels_of, name_of


# Where a cluster's network is written, in the order the value is trusted: istiod's own
# precedence for endpoints (system namespace label, then meshNetworks), the install's values,
# then what injected pods, the gateway Service and istiod's networkz say.
NS_LABEL, MESH_NETWORKS, INJECTOR = "system namespace label", "meshNetworks", "injector values"
POD_LABELS, GATEWAY_LABEL, NETWORKZ_SOURCE = "pod labels", "gateway label", "networkz"
PRECEDENCE = (NS_LABEL, MESH_NETWORKS, INJECTOR, POD_LABELS, GATEWAY_LABEL, NETWORKZ_SOURCE)
NETWORK_INPUTS = (NAMESPACES, ISTIO_CONFIGMAPS, SERVICES, TARGET_POD_NETWORKS, NETWORKZ)


@dataclass
class ClusterNetwork:
    """What each source says the cluster's network is."""

    cluster: str
    sources: dict[str, str] = field(default_factory=dict)

    def network(self, *skip: str) -> str | None:
        """The most trusted value, ignoring the sources under examination."""
        return next((self.sources[s] for s in PRECEDENCE if s in self.sources and s not in skip),
                    None)

    def describe(self) -> str:
        if not self.sources:
            return f"{self.cluster}: no network anywhere"
        parts = [f"{s} {self.sources[s]}" for s in PRECEDENCE if s in self.sources]
        return f"{self.cluster}: network {self.network()} ({'; '.join(parts)})"


@dataclass
class MeshNetworks:
    """Every cluster's network and what each istiod replica's networkz knows."""

    clusters: dict[str, ClusterNetwork]
    networkz: dict[str, PerReplica]

    def of(self, cluster: str) -> str | None:
        net = self.clusters.get(cluster)
        return net.network() if net else None

    @property
    def names(self) -> set[str]:
        return {v for n in self.clusters.values() for v in n.sources.values() if v}

    @property
    def multi(self) -> bool:
        return len(self.names) > 1


def system_namespace(namespaces: list[dict], istio_ns: str) -> dict | None:
    return next((n for n in namespaces if name_of(n) == istio_ns), None)


def majority_pod_network(pods: PodNetworks | None) -> str | None:
    """The network most of the namespace's pods that run a proxy are labelled with."""
    if pods is None:
        return None
    counts = Counter(pods.networks[n] for n in pods.proxies if n in pods.networks)
    return counts.most_common(1)[0][0] if counts else None


def known_gateways(replicas: PerReplica | None) -> list[NetworkGateway]:
    return [g for body in (replicas.values.values() if replicas else ()) for g in
            parse_networkz(body)]


def gather_networks(ctx: CheckContext) -> MeshNetworks:
    """Each cluster's network from every source that could be read (see PRECEDENCE); built
    once per diagnosis for the checks that judge networks (a majority over every proxy of the
    namespace, 20,000 of them on big meshes). Do not change what it returns."""
    return ctx.derived(("networks",), NETWORK_INPUTS, lambda: _gather_networks(ctx))


def _gather_networks(ctx: CheckContext) -> MeshNetworks:
    namespaces, configmaps = ctx.available(NAMESPACES), ctx.available(ISTIO_CONFIGMAPS)
    pods, services, networkz = ctx.available(TARGET_POD_NETWORKS), ctx.available(SERVICES), \
        ctx.available(NETWORKZ)
    registry: dict[str, str] = {}
    for cms in configmaps.values():
        registry.update(registry_networks(mesh_networks(cms)))
    known = [g for replicas in networkz.values() for g in known_gateways(replicas)]
    out = {}
    for cluster in ctx.cluster_names:
        sources: dict[str, str | None] = {
            NS_LABEL: labels_of(system_namespace(namespaces.get(cluster, []),
                                                  ctx.info(cluster).istio_namespace) or {}
                                ).get(NETWORK_LABEL),
            MESH_NETWORKS: registry.get(cluster),
            INJECTOR: install_value(injector_values(configmaps.get(cluster, [])),
                                    "global", "network"),
            POD_LABELS: majority_pod_network(pods.get(cluster)),
            GATEWAY_LABEL: next((labels_of(s)[NETWORK_LABEL] for s in services.get(cluster, [])
                                 if looks_like_eastwest_gateway(s)
                                 and labels_of(s).get(NETWORK_LABEL)), None),
            NETWORKZ_SOURCE: next((g.network for g in known if g.cluster == cluster
                                   and g.network), None),
        }
        out[cluster] = ClusterNetwork(cluster, {k: str(v) for k, v in sources.items() if v})
    return MeshNetworks(out, networkz)


def single_network_step(ctx: CheckContext, title: str, mesh: MeshNetworks) -> Step:
    names = ", ".join(sorted(mesh.names)) or "none set"
    step = ctx.step(title, None, [f"one network in the mesh ({names}): pods reach each other "
                                  "directly, no east-west gateway or network label is needed"]
                    + [n.describe() for n in mesh.clusters.values()], status="pass")
    step.data["networks"] = network_map(mesh)
    return step


def network_map(mesh: MeshNetworks) -> dict[str, str | None]:
    """Each cluster's network, as step data for the topology picture."""
    return {c: mesh.of(c) for c in mesh.clusters}


def pod_ip_verdict(where: Where, network: str | None = None) -> str:
    of = f" of {network}" if network else ""
    return f" — a pod IP{of} where its network's gateway address is expected" \
        if where.kind == "pod" else ""
