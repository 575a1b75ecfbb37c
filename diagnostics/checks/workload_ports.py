"""check: what the target's Service ports tell Istio.

Istio takes a port's protocol from `appProtocol`, else from the name's prefix before the first
`-` (`http-web`, plain `http`), else it sniffs (IST0118; docs/istio-surface.md §5). A port
that says nothing is ambiguous, and so is a target port that two Services declare with different
protocols (IST0116). UDP ports are not carried by the sidecar at all. A headless Service in front
of a StatefulSet addresses pods one by one, which Istio supports only for declared ports.
"""

from __future__ import annotations

from diagnostics.checking import CheckContext, check
from diagnostics.model import Finding, Step
from diagnostics.selectors import selector_matches
from diagnostics.targets import Target
from diagnostics.views.workload import (TARGET_INPUTS, declared_protocol, examined_services,
                                        per_target, ports_of, target_port)
from diagnostics.workloads import has_sidecar, labels_of, name_of, namespace_of


def _is_udp(port: dict) -> bool:
    return str(port.get("protocol") or "TCP").upper() == "UDP"


def _meshed(svc: dict, pods: list[dict]) -> bool:
    selector = (svc.get("spec") or {}).get("selector")
    return any(has_sidecar(p) and selector_matches(selector, labels_of(p)) for p in pods)


def _conflicts(target: Target) -> dict[object, list[tuple[dict, dict, str]]]:
    """Target port → (Service, port, protocol) where Services of the same pods disagree."""
    by_port: dict[object, list[tuple[dict, dict, str]]] = {}
    for svc in target.services:
        for port in ports_of(svc):
            proto, _ = declared_protocol(port)
            if proto and not _is_udp(port):
                by_port.setdefault(target_port(port, target.pods), []).append((svc, port, proto))
    return {k: v for k, v in by_port.items() if len({proto for _s, _p, proto in v}) > 1}


@check("workload-ports", title="Service port protocols", inputs=TARGET_INPUTS,
       emits=("port-protocol-ambiguous", "udp-port-not-proxied"))
def workload_ports(ctx: CheckContext) -> list[Step]:
    """Service ports whose protocol Istio cannot know (no protocol prefix, no appProtocol, or
    one target port declared with different protocols) and UDP ports the sidecar cannot carry."""
    title = "Service port protocols"

    def body(cluster: str, target: Target) -> Step:
        evidence, findings = [], []
        conflicts, reported = _conflicts(target), set()
        for svc in examined_services(target):
            described = []
            for port in ports_of(svc):
                number = port.get("port")
                proto, where = declared_protocol(port)
                if _is_udp(port):
                    described.append(f"{number} UDP")
                    if _meshed(svc, target.pods):  # only a sidecar could have carried it
                        findings.append(_udp(ctx, cluster, svc, port))
                    continue
                described.append(f"{number} {proto or '?'} ({where})")
                if proto is None:
                    reason = (f"{where}: no protocol prefix and no appProtocol, so Istio "
                              "sniffs the protocol")
                    findings.append(_ambiguous(ctx, cluster, svc, port, reason, [
                        f"Service {name_of(svc)} port {number} ({where}, targetPort "
                        f"{port.get('targetPort', number)}): protocol unknown"]))
                    continue
                tp = target_port(port, target.pods)
                clash = conflicts.get(tp)
                if clash and tp not in reported:
                    reported.add(tp)
                    decl = [f"Service {name_of(s)} port {p.get('port')} as {pr}" for s, p, pr in clash]
                    reason = f"target port {tp} is declared with several protocols ({', '.join(decl)})"
                    findings.append(_ambiguous(ctx, cluster, svc, port, reason, decl))
            evidence.append(f"Service {name_of(svc)}: " + (", ".join(described) or "no ports"))
        return ctx.step(title, cluster, evidence or ["no Service selects the target"], findings)

    return per_target(ctx, title, body)


def _ambiguous(ctx: CheckContext, cluster: str, svc: dict, port: dict, reason: str,
               lines: list[str]) -> Finding:
    return ctx.finding("port-protocol-ambiguous", cluster=cluster,
                       resource=f"Service {namespace_of(svc)}/{name_of(svc)}", evidence=lines,
                       basis=lines, service=name_of(svc), namespace=namespace_of(svc), port=port.get("port"),
                       reason=reason)


def _udp(ctx: CheckContext, cluster: str, svc: dict, port: dict) -> Finding:
    line = (f"Service {name_of(svc)} port {port.get('port')} ({port.get('name') or 'unnamed'}) "
            f"is UDP, targetPort {port.get('targetPort', port.get('port'))}")
    return ctx.finding("udp-port-not-proxied", cluster=cluster,
                       resource=f"Service {namespace_of(svc)}/{name_of(svc)}", evidence=[line],
                       service=name_of(svc), namespace=namespace_of(svc), port=port.get("port"))


# ------------------------------------------------------------------------------ headless


