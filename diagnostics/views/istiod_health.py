"""istiod's health in one cluster, as two checks judge it: istiod-health (control-plane, the
digest: the pods with their Deployment, events and nodes) and istiod-serving (why-local-only,
proxy-status: the pods alone). One judgement, one finding (`istiod-unhealthy`); a module of its
own so that neither check's module imports the other's (a plan imports only its checks)."""

from __future__ import annotations

from diagnostics.checking import CheckContext, Unavailable
from diagnostics.inputs import ISTIOD_PODS, ISTIO_DEPLOYMENTS, ISTIO_EVENTS, NODES
from diagnostics.model import Finding, Step
from diagnostics.views.control_plane import (PodHealth, deployment_line, istiod_container,
                                             istiod_deployments, pod_health)
from diagnostics.workloads import image_tag, name_of, namespace_of

HEALTH = "istiod health"
SERVING = "istiod serving"


def health_step(ctx: CheckContext, cluster: str, detailed: bool) -> Step:
    """istiod's health in one cluster; `detailed` (istiod-health) reads the Deployment, events
    and nodes beside the pods, which istiod-serving does not."""
    title = HEALTH if detailed else SERVING
    pods = ctx.get(ISTIOD_PODS, cluster)
    ns = ctx.info(cluster).istio_namespace
    deployments = istiod_deployments(
        (_optional(ctx, ISTIO_DEPLOYMENTS, cluster) if detailed else None) or [])
    evidence = [deployment_line(d) for d in deployments]
    if not pods and not any((d.get("spec") or {}).get("replicas", 1) for d in deployments):
        evidence.append(f"no istiod pod in {ns}: this cluster's proxies use a control plane "
                        "running elsewhere" if detailed else f"no istiod pod in {ns} (a "
                        "remote's proxies use a control plane elsewhere; `control-plane` "
                        "tells whether one should run here)")
        return ctx.step(title, cluster, evidence, status="skip")
    nodes = {name_of(n): n for n in (_optional(ctx, NODES, cluster) if detailed else None)
             or []}
    healths = [pod_health(p, None, nodes) for p in pods]
    if detailed and any(h.problem for h in healths):  # events explain a pod that does not serve
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
    elif findings and not detailed:  # another replica serves the cluster's proxies: no cause
        serving = sum(1 for h in healths if h.problem is None or h.severity == "warning")
        evidence.append(f"{serving} of {len(healths)} istiod replicas in {cluster} serve its "
                        "proxies; `control-plane` says why the others do not")
        step = ctx.step(title, cluster, evidence, status="warn")
        step.data = {"replicas": len(pods), "serving": serving, "versions": sorted(versions)}
        return step
    step = ctx.step(title, cluster, evidence, findings)
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
