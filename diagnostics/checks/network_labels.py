"""Step 7b of the runbook: in a multi-network mesh the clients, the service's pods and the Istio
system namespace must each carry their network, or cross-network routing sends raw pod IPs.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.facts import ClientFact, PodNetworks
from diagnostics.inputs import (CLIENT_CONFIG_DUMPS, ISTIO_CONFIGMAPS, NAMESPACES, SERVICES,
                                TARGET_ENDPOINTSLICES, TARGET_POD_NETWORKS)
from diagnostics.model import Finding, Step
from diagnostics.views.endpoints import endpoints_for, service_ports
from diagnostics.views.listing import listed
from diagnostics.views.mesh import (ISTIO_META_NETWORK, NETWORK_LABEL, describe_endpoint,
                                    gateway_index, locate, mesh_config, proxy_env,
                                    target_pod_index, workload_ref)
from diagnostics.views.networks import (MESH_NETWORKS, MeshNetworks, NETWORK_INPUTS, NS_LABEL,
                                        gather_networks, pod_ip_verdict, single_network_step,
                                        system_namespace)
from diagnostics.workloads import SERVICE_NAME_LABEL, labels_of, name_of, namespace_of


def _mesh_proxy_metadata(ctx: CheckContext, cluster: str) -> dict:
    cfg = mesh_config(ctx.available(ISTIO_CONFIGMAPS).get(cluster, []))
    meta = (cfg.get("defaultConfig") or {}).get("proxyMetadata") if isinstance(cfg, dict) else None
    return meta if isinstance(meta, dict) else {}


def _network_param(mesh: MeshNetworks, cluster: str, *skip: str) -> str:
    return mesh.clusters[cluster].network(*skip) or f"<network of {cluster}>"


def _system_namespace_finding(ctx: CheckContext, cluster: str, mesh: MeshNetworks,
                              evidence: list[str]) -> Finding | None:
    istio_ns = ctx.info(cluster).istio_namespace
    namespace = system_namespace(ctx.get(NAMESPACES, cluster), istio_ns)
    if namespace is None:
        evidence.append(f"namespace {istio_ns} not found")
        return None
    label = labels_of(namespace).get(NETWORK_LABEL)
    expected = mesh.clusters[cluster].network(NS_LABEL)
    registry = mesh.clusters[cluster].sources.get(MESH_NETWORKS)
    line = (f"namespace {istio_ns}: {NETWORK_LABEL}=" + (label or "(missing)")
            + (f"; {expected} expected" if expected and expected != label else ""))
    evidence.append(line)
    if label and (not expected or label == expected):
        return None
    if not label and registry:
        evidence.append(f"meshNetworks assigns {cluster} to {registry}: endpoints without a "
                        "label still get a network")
        return None
    both = [line, mesh.clusters[cluster].describe()]
    return ctx.finding("system-namespace-network-label", cluster=cluster,
                       resource=f"Namespace {istio_ns}", evidence=both, basis=both,
                       network=expected or _network_param(mesh, cluster, NS_LABEL))


def _pod_finding(ctx: CheckContext, cluster: str, pod: dict, line: str, mesh: MeshNetworks,
                 extra: list[str]) -> Finding:
    return ctx.finding("pod-network-unset", cluster=cluster,
                       resource=f"Pod {namespace_of(pod)}/{name_of(pod)}",
                       evidence=[line, *extra], basis=[line],
                       pod=name_of(pod), namespace=namespace_of(pod),
                       workload=workload_ref(pod), network=_network_param(mesh, cluster))


def _client_findings(ctx: CheckContext, cluster: str, mesh: MeshNetworks,
                     evidence: list[str]) -> list[Finding]:
    """The examined client's own network: its proxy's ISTIO_META_NETWORK (env, ProxyConfig or
    mesh default), or the network label the injector stamps with it."""
    if cluster not in ctx.focus:
        return []
    clients: dict[str, ClientFact] = ctx.available(CLIENT_CONFIG_DUMPS).get(cluster, {})
    meta = _mesh_proxy_metadata(ctx, cluster)
    out = []
    for fact in clients.values():
        pod = fact.pod
        env = proxy_env(pod, ISTIO_META_NETWORK, meta)
        label = labels_of(pod).get(NETWORK_LABEL)
        line = (f"client {name_of(pod)}: {NETWORK_LABEL}={label or '(missing)'}, "
                f"{ISTIO_META_NETWORK}={env or '(unset)'}")
        evidence.append(line)
        if env or label:
            continue
        received = _cross_network_pod_ips(ctx, cluster, fact, mesh)
        evidence += received
        out.append(_pod_finding(ctx, cluster, pod, line, mesh, received))
    return out


def _cross_network_pod_ips(ctx: CheckContext, cluster: str, fact: ClientFact,
                           mesh: MeshNetworks) -> list[str]:
    """Remote pod IPs on another network that the client receives (the symptom)."""
    if fact.missing:
        return []
    name, ns = ctx.args["service"], ctx.args["namespace"]
    pods, gateways = target_pod_index(ctx), gateway_index(ctx.available(SERVICES))
    lines = []
    for port in service_ports(ctx, name, ns):
        for ep in endpoints_for(ctx, fact.value, name, ns, port) or []:
            where = locate(ep, pods, gateways)
            if where.kind == "pod" and where.cluster != cluster \
                    and mesh.of(where.cluster or "") != mesh.of(cluster):
                lines.append(f"  receives {describe_endpoint(ep, where, cluster)}"
                             f"{pod_ip_verdict(where, mesh.of(where.cluster or ''))}")
    return lines


def _server_findings(ctx: CheckContext, cluster: str, mesh: MeshNetworks,
                     evidence: list[str]) -> list[Finding]:
    """The service's endpoint pods: network from their label, else the namespace/meshNetworks;
    a finding for each workload (of those whose first pods were read: PodNetworks.owners)
    whose pods have none."""
    name = ctx.args["service"]
    slices = ctx.get(TARGET_ENDPOINTSLICES, cluster)
    known: PodNetworks = ctx.get(TARGET_POD_NETWORKS, cluster)
    targets = {(ep.get("targetRef") or {}).get("name") for s in slices
               if labels_of(s).get(SERVICE_NAME_LABEL) == name for ep in s.get("endpoints") or []}
    fallback = mesh.clusters[cluster].sources.get(NS_LABEL) or \
        mesh.clusters[cluster].sources.get(MESH_NETWORKS)
    out, seen, lines = [], set(), []
    for pod_name in sorted(t for t in targets if t):
        label = known.networks.get(pod_name)
        network = label or fallback
        if label:
            kind = f"network {label}"
        elif network:
            kind = f"network {network} (no pod label; cluster default)"
        else:
            kind = (f"no {NETWORK_LABEL} label, none on {ctx.info(cluster).istio_namespace}, "
                    "none in meshNetworks")
        line = f"endpoint {pod_name}: {kind}"
        lines.append((f"on {kind}", line))
        pod = known.owners.get(pod_name)
        if not network and pod is not None and workload_ref(pod) not in seen:
            seen.add(workload_ref(pod))
            out.append(_pod_finding(ctx, cluster, pod, line, mesh, []))
    evidence += listed(lines, "endpoint pod")
    return out


@check("network-labels", title="Networks of clients, endpoints and system namespaces",
       inputs=(*NETWORK_INPUTS, TARGET_ENDPOINTSLICES, CLIENT_CONFIG_DUMPS),
       emits=("pod-network-unset", "system-namespace-network-label"))
def network_labels(ctx: CheckContext) -> list[Step]:
    """In a multi-network mesh, every client, endpoint and system namespace must name a network;
    an empty one counts as "same network" and gets raw pod IPs."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    if not service_ports(ctx, name, ns):
        return []
    title = "Networks of clients, endpoints and the system namespace"
    mesh = gather_networks(ctx)
    if not mesh.multi:
        return [single_network_step(ctx, title, mesh)]

    def one(cluster: str) -> Step:
        evidence = [mesh.clusters[cluster].describe()]
        findings = [f for f in [_system_namespace_finding(ctx, cluster, mesh, evidence)] if f]
        findings += _client_findings(ctx, cluster, mesh, evidence)
        findings += _server_findings(ctx, cluster, mesh, evidence)
        return ctx.step(title, cluster, evidence, findings)

    return per_cluster(ctx, title, ctx.cluster_names, one)
