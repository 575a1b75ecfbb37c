"""`control-plane` step 1: istiod's health in each cluster.

Every istiod pod with its version (image tag), node, restarts, requests and limits; a pod that
does not serve gets `istiod-unhealthy` with the precise reason (Pending and the scheduler's
words, CrashLoopBackOff with the last exit, OOMKilled with the memory limit, not Ready with the
failing probe) and its node's pressure conditions. The webhooks that call istiod are the next
step (webhooks.py).
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, Unavailable, check, per_cluster
from diagnostics.inputs import ISTIOD_PODS, ISTIO_DEPLOYMENTS, ISTIO_EVENTS, NODES
from diagnostics.model import Finding, Step
from diagnostics.views.control_plane import (PodHealth, deployment_line, istiod_container,
                                             istiod_deployments, pod_health)
from diagnostics.workloads import image_tag, name_of, namespace_of

HEALTH = "istiod health"


# ------------------------------------------------------------------------------ istiod health


@check("istiod-health", title="istiod pods, versions and resources",
       inputs=(ISTIOD_PODS, ISTIO_DEPLOYMENTS, ISTIO_EVENTS, NODES),
       emits=("istiod-unhealthy",))
def istiod_health(ctx: CheckContext) -> list[Step]:
    """Every istiod pod's state, version and resources; why a pod that does not serve fails."""
    return per_cluster(ctx, HEALTH, ctx.focus, lambda c: _health_step(ctx, c))


def _health_step(ctx: CheckContext, cluster: str) -> Step:
    pods = ctx.get(ISTIOD_PODS, cluster)
    ns = ctx.info(cluster).istio_namespace
    deployments = istiod_deployments(_optional(ctx, ISTIO_DEPLOYMENTS, cluster) or [])
    evidence = [deployment_line(d) for d in deployments]
    if not pods and not any((d.get("spec") or {}).get("replicas", 1) for d in deployments):
        evidence.append(f"no istiod pod in {ns}: this cluster's proxies use a control plane "
                        "running elsewhere")
        return ctx.step(HEALTH, cluster, evidence, status="skip")
    nodes = {name_of(n): n for n in _optional(ctx, NODES, cluster) or []}
    healths = [pod_health(p, None, nodes) for p in pods]
    if any(h.problem for h in healths):  # events only explain a pod that does not serve
        events = _optional(ctx, ISTIO_EVENTS, cluster, evidence, f"events in {ns}")
        healths = [pod_health(p, events, nodes) for p in pods]
    evidence += [h.summary for h in healths]
    versions = {image_tag(istiod_container(h.pod).get("image", "")) for h in healths}
    if len(versions) > 1:
        evidence.append(f"istiod replicas run different versions: {', '.join(sorted(versions))}")
    findings = []
    for h in healths:
        evidence += h.details
        if h.problem:
            findings.append(_unhealthy(ctx, cluster, h))
    if not pods:
        dep = deployments[0]
        reason = f"no istiod pod exists for {deployment_line(dep)}"
        findings.append(ctx.finding("istiod-unhealthy", cluster=cluster,
                                    resource=f"Deployment {ns}/{name_of(dep)}", evidence=[reason],
                                    istiod_pod=f"deployment/{name_of(dep)}", reason=reason))
    elif findings and not any(h.problem is None or h.severity == "warning" for h in healths):
        evidence.append(f"no istiod replica in {cluster} is serving")
    step = ctx.step(HEALTH, cluster, evidence, findings)
    step.data = {"replicas": len(pods), "serving": sum(1 for h in healths if h.problem is None),
                 "versions": sorted(versions)}
    return step


def _unhealthy(ctx: CheckContext, cluster: str, h: PodHealth) -> Finding:
    return ctx.finding("istiod-unhealthy", cluster=cluster,
                       resource=f"Pod {namespace_of(h.pod)}/{h.name}",
                       evidence=[h.summary, *h.details], severity=h.severity,
                       istiod_pod=h.name, reason=h.problem)


def _optional(ctx: CheckContext, inp, cluster: str, evidence: list[str] | None = None,
              label: str = "") -> list[dict] | None:
    """An input that only adds detail: missing, it is noted (when asked) and the step goes on."""
    try:
        return ctx.get(inp, cluster)
    except Unavailable as exc:
        if evidence is not None:
            evidence.append(f"{label}: not read ({exc.reason})")
        return None


# ---------------------------------------------------------------------------------- webhooks


