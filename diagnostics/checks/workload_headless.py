"""check: a headless Service fronting a StatefulSet, whose pods are addressed one by one (and
whose ports Istio handles per pod).
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check
from diagnostics.model import Step
from diagnostics.targets import Target, owner_of
from diagnostics.views.workload import TARGET_INPUTS, examined_services, per_target, ports_of
from diagnostics.workloads import name_of, namespace_of


def _statefulset_behind(svc: dict, pods: list[dict]) -> str | None:
    selector = (svc.get("spec") or {}).get("selector") or {}
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            continue
        owner = owner_of(pod)
        if owner and owner[0] == "StatefulSet":
            return f"statefulset/{owner[1]}"
    return None


@check("workload-headless", title="Headless services", inputs=TARGET_INPUTS,
       emits=("headless-service-statefulset",))
def workload_headless(ctx: CheckContext) -> list[Step]:
    """A headless Service (clusterIP None) selecting StatefulSet pods, which clients address
    one by one."""
    title = "Headless services"

    def body(cluster: str, target: Target) -> Step | None:
        evidence, findings = [], []
        for svc in examined_services(target):
            spec = svc.get("spec") or {}
            if spec.get("clusterIP") != "None":
                continue
            sts = _statefulset_behind(svc, target.pods)
            if not sts:
                evidence.append(f"Service {name_of(svc)} is headless; it selects no StatefulSet pods")
                continue
            pods = [p for p in target.pods
                    if (p.get("spec") or {}).get("subdomain") == name_of(svc)
                    or owner_of(p) == ("StatefulSet", sts.split("/", 1)[1])]
            members, count = sorted(map(name_of, pods)), target.counted(pods)
            ports = ", ".join(f"{p.get('port')}/{p.get('name') or '-'}" for p in ports_of(svc))
            line = (f"Service {name_of(svc)} is headless (clusterIP None, ports {ports}) and "
                    f"selects {sts}: {', '.join(members[:5])}"
                    + (f" … ({count})" if count > 5 else ""))
            evidence.append(line)
            findings.append(ctx.finding(
                "headless-service-statefulset", cluster=cluster,
                resource=f"Service {namespace_of(svc)}/{name_of(svc)}",
                evidence=[line, f"members are addressed as <pod>.{name_of(svc)}."
                                f"{namespace_of(svc)}.svc.cluster.local"],
                service=name_of(svc), namespace=namespace_of(svc), workload=sts))
        if not evidence:
            return None  # nothing headless: no step to show
        return ctx.step(title, cluster, evidence, findings)

    return per_target(ctx, title, body)
