"""Which data plane carries the examined namespace: sidecars, ambient (ztunnel), or both.

Said first wherever ambient mode is in play, so every later step is read for the right data
plane: the sidecar steps examine sidecar pods only, the ztunnel and waypoint steps ambient ones.
A namespace only sidecars use gets no such step (nothing changes for a sidecar-only mesh).
"""

from __future__ import annotations

from collections import Counter

from diagnostics.checking import CheckContext, check, per_cluster
from diagnostics.inputs import AMBIENT_NAMESPACE_PODS, NAMESPACES, SERVICES, TARGET_ROLE_PODS
from diagnostics.model import Step
from diagnostics.views.ambient import (DATAPLANE_MODE, ambient_clusters, finished,
                                       namespace_index, namespace_mode, pod_dataplane,
                                       waypoint_of)
from diagnostics.workloads import find_service, labels_of, name_of, namespace_of


@check("dataplane", title="Data plane of the examined workloads",
       inputs=(NAMESPACES, TARGET_ROLE_PODS, AMBIENT_NAMESPACE_PODS, SERVICES))
def dataplane(ctx: CheckContext) -> list[Step]:
    """Say per cluster whether the namespace's pods use sidecars or ambient mode (and which are
    captured by ztunnel), and which waypoint the namespace or the service is bound to."""
    ns = ctx.args["namespace"]
    if not ambient_clusters(ctx, ns):
        return []
    title = f"Data plane of namespace {ns}"

    def one(cluster: str) -> Step:
        ns_obj = namespace_index(ctx.get(NAMESPACES, cluster)).get(ns)
        pods = [p for p in ctx.get(AMBIENT_NAMESPACE_PODS, cluster) if namespace_of(p) == ns
                and not finished(p)]
        mode = namespace_mode(ns_obj)
        label = labels_of(ns_obj or {}).get(DATAPLANE_MODE)
        evidence = [f"namespace {ns}: " + (f"{DATAPLANE_MODE}={label}" if label else
                                           "no dataplane-mode label") + f" ({mode})"]
        kinds = Counter(pod_dataplane(p, ns_obj) for p in pods)
        evidence.append("pods: " + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                                    or "none"))
        evidence += [f"  {name_of(p)}: {pod_dataplane(p, ns_obj)}" for p in
                     sorted(pods, key=name_of)[:8]]
        evidence += _waypoints(ctx, cluster, ns_obj)
        examined = ("ambient pods through the ztunnel of their node" if kinds.get("ambient")
                    else "no pod captured by ztunnel")
        evidence.append(f"examined: {examined}; sidecar steps look at sidecar pods only")
        return ctx.step(title, cluster, evidence, status="pass")

    return per_cluster(ctx, title, ctx.focus, one)


def _waypoints(ctx: CheckContext, cluster: str, ns_obj: dict | None) -> list[str]:
    ns = ctx.args["namespace"]
    lines = []
    bound = waypoint_of({"metadata": {"namespace": ns}}, ns_obj, f"namespace {ns}")
    lines.append(f"namespace waypoint: {bound.namespace}/{bound.name}" if bound
                 else "namespace waypoint: none")
    service = ctx.args.get("service")
    svc = find_service(ctx.available(SERVICES).get(cluster, []), service, ns) if service else None
    if svc is not None:
        ref = waypoint_of(svc, ns_obj, f"Service {ns}/{service}")
        lines.append(f"Service {service}: " + (f"waypoint {ref.namespace}/{ref.name} (bound by "
                                                f"{ref.by})" if ref else "no waypoint"))
    return lines
