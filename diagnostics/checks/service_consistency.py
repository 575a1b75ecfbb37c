"""Whether the Service is defined alike in every cluster (as istioctl's IST0170).

istiod merges a service's definitions from all clusters into one; when they disagree in type,
headless-ness, ports, port names or protocols, one cluster's view wins and traffic to the
others' endpoints can be mis-routed or dropped.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check
from diagnostics.inputs import SERVICES
from diagnostics.model import Step
from diagnostics.workloads import find_service


def _ports(svc: dict) -> dict[int, tuple[str, str]]:
    out = {}
    for p in (svc.get("spec") or {}).get("ports") or []:
        if "port" in p:
            proto = p.get("appProtocol") or p.get("protocol") or "TCP"
            out[int(p["port"])] = (p.get("name") or "", proto)
    return out


def service_differences(a: dict, b: dict) -> list[str]:
    """What differs between two definitions of one Service, in words; empty when alike."""
    sa, sb = a.get("spec") or {}, b.get("spec") or {}
    diffs = []
    type_a, type_b = sa.get("type") or "ClusterIP", sb.get("type") or "ClusterIP"
    if type_a != type_b:
        diffs.append(f"type {type_a} vs {type_b}")
    headless_a, headless_b = sa.get("clusterIP") == "None", sb.get("clusterIP") == "None"
    if headless_a != headless_b:
        diffs.append("headless vs ClusterIP" if headless_a else "ClusterIP vs headless")
    pa, pb = _ports(a), _ports(b)
    only_a, only_b = sorted(set(pa) - set(pb)), sorted(set(pb) - set(pa))
    if only_a or only_b:
        diffs.append(f"ports {sorted(pa)} vs {sorted(pb)}")
    for port in sorted(set(pa) & set(pb)):
        (name_a, proto_a), (name_b, proto_b) = pa[port], pb[port]
        if name_a != name_b:
            diffs.append(f"port {port} named {name_a or '(none)'} vs {name_b or '(none)'}")
        if proto_a != proto_b:
            diffs.append(f"port {port} protocol {proto_a} vs {proto_b}")
    return diffs


@check("service-consistency", title="Service definitions across clusters", inputs=(SERVICES,),
       emits=("service-mismatch-across-clusters",))
def service_consistency(ctx: CheckContext) -> list[Step]:
    """Compare the Service's definition in every cluster with the first that defines it."""
    name, ns = ctx.args["service"], ctx.args["namespace"]
    defined = {c: svc for c, svcs in ctx.available(SERVICES).items()
               if (svc := find_service(svcs, name, ns)) is not None}
    if len(defined) < 2:
        return []  # nothing to compare (presence is the previous step's business)
    clusters = list(defined)
    ref = clusters[0]
    evidence, findings = [], []
    for peer in clusters[1:]:
        diffs = service_differences(defined[ref], defined[peer])
        if not diffs:
            evidence.append(f"{peer}: same as {ref}")
            continue
        line = f"{peer} vs {ref}: {'; '.join(diffs)}"
        evidence.append(line)
        findings.append(ctx.finding(
            "service-mismatch-across-clusters", cluster=ref, resource=f"Service {ns}/{name}",
            evidence=[line], peer_cluster=peer, reason="; ".join(diffs)))
    return [ctx.step(f"Service {name}.{ns} alike in every cluster", None, evidence, findings)]
