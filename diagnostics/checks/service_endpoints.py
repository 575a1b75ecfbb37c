"""Step 1b of the runbook: where the service has ready endpoints, and why a cluster has none
(not deployed, scaled to zero, not Ready, a selector that matches nothing).
"""

from __future__ import annotations

from diagnostics import describe
from diagnostics.checking import CheckContext, Unavailable, check
from diagnostics.inputs import (SERVICES, TARGET_DEPLOYMENTS, TARGET_ENDPOINTSLICES,
                                SERVICE_POD_META, UNREADY_SERVICE_PODS)
from diagnostics.model import Step
from diagnostics.selectors import selector_matches
from diagnostics.workloads import (NOT_READY_SHOWN, endpoint_addresses, find_service, labels_of,
                                   name_of, namespace_of)


def _pod_problem(pod: dict) -> str:
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            return f"{cs.get('name')} {waiting.get('reason', 'waiting')}"
        if not cs.get("ready"):
            return f"{cs.get('name')} not ready"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") != "True":
            return cond.get("reason") or "not Ready"
    return status.get("phase") or "not ready"


def _why_no_endpoints(svc: dict | None, pods: list[dict], whole: list[dict],
                      deployments: list[dict], name: str, ns: str) -> str:
    """The most specific reason a cluster has no ready endpoint for the service, from the pods
    it selects (SERVICE_POD_META; `app=<name>` without a Service) and the first of them whole
    (UNREADY_SERVICE_PODS)."""
    if svc is None:
        backing = [p for p in pods if labels_of(p).get("app") == name]
        if backing:
            return (f"no Service {name} here, so its {describe.plural(len(backing), 'pod')} "
                    "are not endpoints")
        return f"not deployed here (no Service {name} in {ns})"
    selector = (svc.get("spec") or {}).get("selector") or {}
    selected = [p for p in pods if selector_matches(selector, labels_of(p))]
    if selected:
        by_name = {(namespace_of(p), name_of(p)): p for p in whole}
        problems = ", ".join(
            f"{name_of(p)}: {_pod_problem(by_name.get((namespace_of(p), name_of(p)), p))}"
            for p in selected[:NOT_READY_SHOWN])
        return f"{describe.plural(len(selected), 'pod')} selected, none Ready ({problems})"
    scaled = [d for d in deployments
              if selector_matches(selector, ((d.get("spec") or {}).get("template") or {})
                                  .get("metadata", {}).get("labels"))
              and (d.get("spec") or {}).get("replicas", 1) == 0]
    if scaled:
        return f"Deployment {', '.join(name_of(d) for d in scaled)} scaled to 0 replicas"
    sel = ",".join(f"{k}={v}" for k, v in selector.items()) or "(none)"
    return f"no pod matches the selector {sel}"


@check("service-endpoints", title="Ready endpoints in each cluster",
       inputs=(SERVICES, TARGET_ENDPOINTSLICES, SERVICE_POD_META, UNREADY_SERVICE_PODS,
               TARGET_DEPLOYMENTS),
       emits=("no-remote-endpoints",))
def service_endpoints(ctx: CheckContext) -> list[Step]:
    """Count ready endpoints per cluster; a single cluster with endpoints has nothing remote."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    title = f"Ready endpoints of {name}.{ns}"
    services = ctx.available(SERVICES)
    if not any(find_service(svcs, name, ns) for svcs in services.values()):
        return []  # service-presence already explains the absence
    evidence, with_endpoints, without, incomplete = [], [], [], False

    def whole(cluster: str) -> list[dict]:
        return ctx.available(UNREADY_SERVICE_PODS).get(cluster, [])

    for cluster in ctx.cluster_names:
        try:
            slices = ctx.get(TARGET_ENDPOINTSLICES, cluster)
            pods = ctx.get(SERVICE_POD_META, cluster)
            deployments = ctx.get(TARGET_DEPLOYMENTS, cluster)
            svc = find_service(ctx.get(SERVICES, cluster), name, ns)
        except Unavailable as exc:
            evidence.append(f"{cluster}: could not read ({exc.reason})")
            incomplete = True
            continue
        ready, not_ready = endpoint_addresses(slices, name)
        if ready:
            with_endpoints.append(cluster)
            extra = f", {len(not_ready)} not ready" if not_ready else ""
            evidence.append(f"{cluster}: {describe.plural(len(ready), 'ready endpoint')} "
                            f"({', '.join(ready[:6])}){extra}")
        else:
            without.append(cluster)
            why = _why_no_endpoints(svc, pods, whole(cluster), deployments, name, ns)
            evidence.append(f"{cluster}: no ready endpoint: {why}")
    findings = []
    if len(ctx.cluster_names) > 1 and len(with_endpoints) <= 1 and not incomplete:
        findings.append(ctx.finding(
            "no-remote-endpoints", cluster=without[0] if without else None,
            resource=f"Service {ns}/{name}", evidence=evidence,
            clusters_with_endpoints=", ".join(with_endpoints) or "none",
            peer_cluster=with_endpoints[0] if with_endpoints else "",
        ))
    step = ctx.step(title, None, evidence, findings)
    step.incomplete = incomplete
    return [step]
