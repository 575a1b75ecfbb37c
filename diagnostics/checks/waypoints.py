"""Ambient: the waypoints traffic is bound to exist, are universal, and are ready.

A Service (or its namespace) labelled `istio.io/use-waypoint` sends its traffic through that
waypoint, a Gateway of class istio-waypoint. Across clusters the waypoint of a global service
must be universal: the same name and namespace in every cluster that serves the service (istio.io
ambient failover guide; istio/istio#60985). And each one must be Programmed with a ready pod.

why-local-only examines the waypoint of the service asked about; proxy-status every waypoint of
the namespace (or of the mesh).
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import K8S_GATEWAYS, NAMESPACES, SERVICES, WAYPOINT_PODS
from diagnostics.model import Finding, Step
from diagnostics.views.ambient import (MISSING, WAYPOINT_CLASS, WaypointRef, class_of,
                                       namespace_index, waypoint_of, waypoint_problem)
from diagnostics.views.proxies import in_scope
from diagnostics.workloads import find_service, name_of, namespace_of


def _problem(ctx: CheckContext, cluster: str, ref: WaypointRef) -> tuple[str, list[str]]:
    return waypoint_problem(ctx.get(K8S_GATEWAYS, cluster), ctx.get(WAYPOINT_PODS, cluster), ref,
                            cluster)


@check("waypoints", title="Waypoints",
       inputs=(K8S_GATEWAYS, SERVICES, NAMESPACES, WAYPOINT_PODS),
       emits=("waypoint-not-universal", "waypoint-not-ready"))
def waypoints(ctx: CheckContext) -> list[Step]:
    """Check the waypoint the service uses in every cluster that serves it (why-local-only),
    or every waypoint in scope (proxy-status): present everywhere, Programmed, pods ready."""
    if ctx.args.get("service"):
        return _service_waypoint(ctx)
    return _all_waypoints(ctx)


def _service_waypoint(ctx: CheckContext) -> list[Step]:
    name, ns = ctx.args["service"], ctx.args["namespace"]
    services = ctx.available(SERVICES)
    bound: dict[str, WaypointRef] = {}
    for cluster, svcs in services.items():
        svc = find_service(svcs, name, ns)
        ns_obj = namespace_index(ctx.available(NAMESPACES).get(cluster, [])).get(ns)
        ref = waypoint_of(svc, ns_obj, f"Service {ns}/{name}") if svc else None
        if ref:
            bound[cluster] = ref
    if not bound:
        return []
    ref = next(iter(bound.values()))
    title = f"Waypoint {ref.namespace}/{ref.name} of {name}.{ns}"
    serving = [c for c in ctx.cluster_names if find_service(services.get(c, []), name, ns)]
    states = {c: _problem(ctx, c, ref) for c in serving if c in ctx.available(K8S_GATEWAYS)}
    evidence = [f"{c}: {name} bound to {b.namespace}/{b.name} by {b.by}" for c, b in bound.items()]
    evidence += [line for _, lines in states.values() for line in lines]
    present = [c for c, (problem, _) in states.items() if problem != MISSING]
    findings: list[Finding] = []
    for cluster, (problem, lines) in states.items():
        if problem == MISSING and present:
            findings.append(ctx.finding(
                "waypoint-not-universal", cluster=cluster,
                resource=f"Gateway {ref.namespace}/{ref.name}", evidence=lines,
                waypoint=ref.name, waypoint_namespace=ref.namespace, peer_cluster=present[0]))
        elif problem and cluster in ctx.focus:
            findings.append(_not_ready(ctx, cluster, ref, problem, lines, f"Service {ns}/{name}"))
    return [ctx.step(title, None, evidence, findings)]


def _not_ready(ctx: CheckContext, cluster: str, ref: WaypointRef, problem: str,
               lines: list[str], user: str) -> Finding:
    return ctx.finding("waypoint-not-ready", cluster=cluster,
                       resource=f"Gateway {ref.namespace}/{ref.name}", evidence=lines,
                       waypoint=ref.name, waypoint_namespace=ref.namespace, problem=problem,
                       user=user)


def _all_waypoints(ctx: CheckContext) -> list[Step]:
    title = "Waypoints"

    def one(cluster: str) -> Step | None:
        gateways = [g for g in ctx.get(K8S_GATEWAYS, cluster) if class_of(g) == WAYPOINT_CLASS
                    and in_scope(ctx, namespace_of(g))]
        if not gateways:
            return None
        evidence, findings = [], []
        for gw in sorted(gateways, key=lambda g: (namespace_of(g), name_of(g))):
            ref = WaypointRef(name_of(gw), namespace_of(gw), f"waypoint {name_of(gw)}")
            problem, lines = _problem(ctx, cluster, ref)
            evidence += lines
            if problem:
                findings.append(_not_ready(ctx, cluster, ref, problem, lines,
                                           f"what is bound to {ref.namespace}/{ref.name}"))
        return ctx.step(title, cluster, evidence, findings)

    return per_cluster(ctx, title, ctx.focus, one)
