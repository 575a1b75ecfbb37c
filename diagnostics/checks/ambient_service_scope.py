"""Ambient: is the service global in every cluster, and does it exist where its clients run?

In ambient mode a Service is local to its cluster unless `meshConfig.serviceScopeConfigs`
selects it (the ambient profile: `istio.io/global=true`), and istiod sends a remote cluster's
Service to ztunnel only when it is global (istio/istio pilot/pkg/serviceregistry/ambient/
services.go). A Service bound to a waypoint needs the waypoint's Service global too (istio.io's
ambient failover guide). And a client resolves the name through its own cluster's DNS, so the
Service must exist in every cluster with clients (the ambient verify guide creates it in each).
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check
from diagnostics.facts import PerReplica
from diagnostics.inputs import (ISTIOD_PODS, ISTIO_CONFIGMAPS, MESH, NAMESPACES, SERVICES,
                                TARGET_ROLE_PODS)
from diagnostics.model import Finding, Step
from diagnostics.views.ambient import (ambient_clusters, captured,
                                       describe_scope_configs, is_global, namespace_index,
                                       scope_configs, waypoint_of)
from diagnostics.views.mesh import mesh_config
from diagnostics.workloads import find_service, istiod_version, labels_of, name_of, namespace_of


def _configs(ctx: CheckContext, cluster: str) -> tuple[list[dict], str]:
    """serviceScopeConfigs as istiod runs with them (/debug/mesh), else as installed (the mesh
    ConfigMap); the source says which, and whether the two differ."""
    cms = ctx.available(ISTIO_CONFIGMAPS).get(cluster)
    installed = scope_configs(mesh_config(cms)) if cms is not None else None
    replicas: PerReplica | None = ctx.available(MESH).get(cluster)
    for replica, body in sorted((replicas.values if replicas else {}).items()):
        if isinstance(body, dict):
            running = scope_configs(body)
            differs = installed is not None and installed != running
            return running, (f"istiod {replica} /debug/mesh"
                             + ("; the mesh ConfigMap says otherwise" if differs else ""))
    if installed is not None:
        return installed, "ConfigMap istio"
    return [], ""


def _before_scopes(ctx: CheckContext, cluster: str) -> str:
    """istiod's version when it predates service scopes (1.27), else ""."""
    versions = [istiod_version(p) for p in ctx.available(ISTIOD_PODS).get(cluster, [])]
    old = [v for v in versions if v and v[:2] < (1, 27)]
    return ".".join(map(str, old[0])) if old else ""


def _clients_in(ctx: CheckContext, cluster: str, ns: str) -> list[str]:
    pods = ctx.available(TARGET_ROLE_PODS).get(cluster, [])
    return sorted(name_of(p) for p in pods if namespace_of(p) == ns and captured(p))


@check("ambient-service-scope", title="Ambient: the service is global and present everywhere",
       inputs=(SERVICES, NAMESPACES, TARGET_ROLE_PODS, ISTIO_CONFIGMAPS, MESH, ISTIOD_PODS),
       emits=("ambient-service-not-global", "ambient-service-missing-in-client-cluster"))
def ambient_service_scope(ctx: CheckContext) -> list[Step]:
    """For an ambient namespace, check that the service exists in every cluster with ambient
    clients and that serviceScopeConfigs makes it (and its waypoint's Service) global in every
    cluster that has it."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    ambient = ambient_clusters(ctx, ns)
    services = ctx.available(SERVICES)
    having = [c for c in ctx.cluster_names if find_service(services.get(c, []), name, ns)]
    if not ambient or not having or len(ctx.cluster_names) < 2:
        return []
    title = f"Ambient: {name}.{ns} global and present in every cluster"
    evidence: list[str] = []
    findings: list[Finding] = []
    incomplete = False
    for cluster in ctx.focus:
        clients = _clients_in(ctx, cluster, ns)
        if cluster in having or not clients:
            continue
        line = (f"{cluster}: no Service {name} in {ns}, yet {len(clients)} ambient pod(s) of "
                f"{ns} run there (e.g. {clients[0]}); {', '.join(having)} serve it")
        evidence.append(line)
        findings.append(ctx.finding("ambient-service-missing-in-client-cluster", cluster=cluster,
                                    resource=f"Namespace {ns}", evidence=[line],
                                    peer_cluster=having[0]))
    for cluster in having:
        old = _before_scopes(ctx, cluster)
        if old:
            evidence.append(f"{cluster}: istiod {old} predates serviceScopeConfigs (1.27): "
                            "scope is not what keeps this Service local (see the multi-network "
                            "step)")
            continue
        configs, source = _configs(ctx, cluster)
        if not source:
            evidence.append(f"{cluster}: meshConfig could not be read: scope not checked")
            incomplete = True
            continue
        ns_obj = namespace_index(ctx.available(NAMESPACES).get(cluster, [])).get(ns)
        svc = find_service(services[cluster], name, ns)
        targets = [svc] + _waypoint_services(ctx, cluster, svc, ns_obj)
        for target in targets:
            findings += _scope(ctx, cluster, target, ns_obj, configs, source, evidence)
    step = ctx.step(title, None, evidence, findings)
    step.incomplete = incomplete and not findings
    return [step]


def _waypoint_services(ctx: CheckContext, cluster: str, svc: dict,
                       ns_obj: dict | None) -> list[dict]:
    ref = waypoint_of(svc, ns_obj, f"Service {namespace_of(svc)}/{name_of(svc)}")
    if ref is None:
        return []
    wp = find_service(ctx.available(SERVICES).get(cluster, []), ref.name, ref.namespace)
    return [wp] if wp is not None else []


def _scope(ctx: CheckContext, cluster: str, svc: dict, ns_obj: dict | None, configs: list[dict],
           source: str, evidence: list[str]) -> list[Finding]:
    ref = f"Service {namespace_of(svc)}/{name_of(svc)}"
    target_ns = namespace_index(ctx.available(NAMESPACES).get(cluster, [])).get(
        namespace_of(svc), ns_obj)
    label = labels_of(svc).get("istio.io/global")
    described = describe_scope_configs(configs)
    if is_global(svc, target_ns, configs):
        evidence.append(f"{cluster}: {ref} is global (istio.io/global={label or '-'}; "
                        f"serviceScopeConfigs from {source}: {described})")
        return []
    line = (f"{cluster}: {ref} is local to {cluster}: no GLOBAL serviceScopeConfigs entry "
            f"selects it (istio.io/global={label or '(missing)'}; serviceScopeConfigs from "
            f"{source}: {described})")
    evidence.append(line)
    return [ctx.finding("ambient-service-not-global", cluster=cluster, resource=ref,
                        evidence=[line], target=ref, target_name=name_of(svc),
                        target_namespace=namespace_of(svc), scope=described)]
