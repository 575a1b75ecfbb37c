"""Where the service is defined and where it has ready endpoints, cluster by cluster.

Step 1 of the cross-cluster load-balancing runbook: before blaming the mesh, make sure there
is something remote to balance to.
"""

from __future__ import annotations

import difflib

from diagnostics import describe
from diagnostics.checking import CheckContext, Unavailable, check
from diagnostics.inputs import SERVICES
from diagnostics.model import Step
from diagnostics.workloads import find_service, name_of, namespace_of


def _similar(services_by_cluster: dict[str, list[dict]], name: str, namespace: str) -> list[str]:
    """Close names in the namespace, and the exact name in other namespaces."""
    in_ns = {name_of(s) for svcs in services_by_cluster.values() for s in svcs
             if namespace_of(s) == namespace}
    close = difflib.get_close_matches(name, sorted(in_ns), n=3, cutoff=0.6)
    elsewhere = sorted({f"{name_of(s)} (namespace {namespace_of(s)})"
                        for svcs in services_by_cluster.values() for s in svcs
                        if name_of(s) == name and namespace_of(s) != namespace})
    return close + elsewhere


@check("service-presence", title="Service definition in each cluster", inputs=(SERVICES,),
       emits=("service-not-found",))
def service_presence(ctx: CheckContext) -> list[Step]:
    """Find the Service in every cluster; when it is nowhere, suggest the names that are."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    title = f"Service {name}.{ns} in each cluster"
    available = ctx.available(SERVICES)
    evidence, found = [], 0
    for cluster in ctx.cluster_names:
        if cluster not in available:
            evidence.append(f"{cluster}: could not list services")
            continue
        svc = find_service(available[cluster], name, ns)
        found += svc is not None
        evidence.append(f"{cluster}: {describe.service(svc)}" if svc
                        else f"{cluster}: no Service {name} in namespace {ns}")
    if not available:
        return [ctx.unavailable_step(title, None, _first_missing(ctx, SERVICES))]
    findings = []
    complete = len(available) == len(ctx.cluster_names)
    if not found and complete:
        similar = _similar(available, name, ns)
        findings.append(ctx.finding(
            "service-not-found", resource=f"Service {ns}/{name}", evidence=evidence,
            similar=", ".join(similar) if similar else "none found"))
    step = ctx.step(title, None, evidence, findings)
    step.incomplete = not complete and not found
    return [step]


def _first_missing(ctx: CheckContext, inp) -> Unavailable:
    for cluster in ctx.cluster_names:
        try:
            ctx.get(inp, cluster)
        except Unavailable as exc:
            return exc
    return Unavailable("", inp.describe(), "not available", captured=False)


